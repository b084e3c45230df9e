"""The on-disk index that ``crs-agent index`` builds, and the loaded :class:`Knowledge` bundle.

Layout of a data directory::

    index -> builds/<hash>-<id>          symlink, swapped atomically when a build completes
    builds/<hash>-<id>/manifest.json     written last: a build without it never looks valid
    builds/<hash>-<id>/catalog.jsonl, kg.pkl, collab_*.npz, vectors.npy
    chroma/                              embedded Chroma: items-<hash>-<id> collections and the users' memory

A build is idempotent: the manifest records a hash of the inputs (data files, embedder, schema
version), and a second run with the same inputs does nothing.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import secrets
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from chromadb.api.shared_system_client import SharedSystemClient
from chromadb.api.types import Documents, EmbeddingFunction
from chromadb.errors import ChromaError
from tqdm.auto import tqdm

from crs_agent.knowledge.collab import CollaborativeSignals
from crs_agent.knowledge.config import Settings
from crs_agent.knowledge.embeddings import EmbeddingCache, make_embedder, shipped_vectors, unit_rows
from crs_agent.knowledge.errors import IndexBusyError, IndexIncompleteError, IndexMissingError
from crs_agent.knowledge.graph import KnowledgeGraph
from crs_agent.knowledge.items import Catalog
from crs_agent.knowledge.loaders import BadRow, SourceData, load_source, source_fingerprint
from crs_agent.knowledge.locks import serving
from crs_agent.knowledge.stores import ItemStore, MemoryStore, item_metadata, make_client

__all__ = ["BuildReport", "Knowledge", "build_index", "ensure_index", "index_status", "load_knowledge"]

log = logging.getLogger(__name__)

SCHEMA_VERSION = 3
_FILES = (
    "catalog.jsonl",
    "kg.pkl",
    "collab_ids.json",
    "collab_ratings.npz",
    "collab_sessions.npz",
    "collab_counts.npz",
    "collab_contexts.json",
    "collab_bank.json",
    "collab_bank.npy",
    "vectors.npy",
)


@dataclass
class BuildReport:
    built: bool
    path: Path
    manifest: dict[str, Any]
    bad_rows: list[BadRow] = field(default_factory=list)

    def summary(self) -> str:
        m = self.manifest
        head = "Built" if self.built else "Index is up to date (inputs unchanged), nothing to do:"
        text = (
            f"{head} {m['source']} at {self.path}: {m['items']} items ({m['items_with_facts']} with facts), "
            f"{m['kg']['edges']} KG edges, {m['collab']['items_with_rating_neighbours']} items with collaborative "
            f"neighbours, in {m['build_seconds']:.1f} s."
        )
        if self.bad_rows:
            text += f" Skipped {len(self.bad_rows)} bad catalog rows:" + "".join(
                f"\n  line {row.line}: {row.error}" for row in self.bad_rows
            )
        return text


@dataclass
class Knowledge:
    """Everything the tools read: catalog, KG, collaborative signals, vectors and the Chroma stores."""

    settings: Settings
    manifest: dict[str, Any]
    catalog: Catalog
    kg: KnowledgeGraph
    collab: CollaborativeSignals
    vectors: np.ndarray  # row i is the normalised embedding of catalog.ids()[i]
    items: ItemStore
    memory: MemoryStore
    embedder: EmbeddingFunction[Documents]

    def __post_init__(self) -> None:
        self.row = {item_id: n for n, item_id in enumerate(self.catalog.ids())}


def _input_hash(fingerprint: str, embedder: EmbeddingFunction[Documents]) -> str:
    config = json.dumps({"embedder": embedder.name(), **embedder.get_config()}, sort_keys=True)
    return hashlib.sha256(f"{SCHEMA_VERSION}|{fingerprint}|{config}".encode()).hexdigest()[:16]


@contextmanager
def _build_lock(data_dir: Path) -> Iterator[None]:
    data_dir.mkdir(parents=True, exist_ok=True)
    with (data_dir / ".index.lock").open("w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as err:
            raise IndexBusyError(data_dir) from err
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def read_manifest(settings: Settings) -> dict[str, Any] | None:
    path = settings.index_dir / "manifest.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, NotADirectoryError):
        return None
    except json.JSONDecodeError as err:
        raise IndexIncompleteError(settings.index_dir, "manifest.json is corrupted") from err


def _manifest_or_none(settings: Settings) -> dict[str, Any] | None:
    try:
        return read_manifest(settings)
    except IndexIncompleteError:
        return None


def build_index(
    settings: Settings,
    *,
    rebuild: bool = False,
    strict: bool = False,
    progress: bool = True,
    embedder: EmbeddingFunction[Documents] | None = None,
) -> BuildReport:
    """Build (or confirm up to date) the index for ``settings.catalog`` in ``settings.data_dir``."""
    embedder = embedder or make_embedder(settings.embedding_model)
    with _build_lock(settings.data_dir):
        _set_aside_unreadable_store(settings)
        source = load_source(settings.catalog, strict=strict, interactions=settings.interactions)
        digest = _input_hash(source.fingerprint, embedder)
        current = _manifest_or_none(settings)
        if not rebuild and current and current.get("input_hash") == digest and _is_complete(settings, current):
            return BuildReport(False, settings.index_dir, current, source.bad_rows)
        with serving(settings):  # never rewrite an embedded Chroma store that another process serves
            started = time.perf_counter()
            # A name no earlier build used: the index being replaced keeps its files (and, embedded, its Chroma
            # collection) until the new one is complete and swapped in, so a killed build leaves it serving.
            build_dir = settings.data_dir / "builds" / f"{digest}-{secrets.token_hex(4)}"
            build_dir.mkdir(parents=True)
            manifest = _build_into(build_dir, settings, source, embedder, digest, progress)
            manifest["build_seconds"] = round(time.perf_counter() - started, 2)
            _write_json(build_dir / "manifest.json", manifest)
            _swap(settings, build_dir)
            _drop_stale(settings, build_dir, manifest["items_collection"], replaced=current)
        return BuildReport(True, settings.index_dir, manifest, source.bad_rows)


def _build_into(
    build_dir: Path,
    settings: Settings,
    source: SourceData,
    embedder: EmbeddingFunction[Documents],
    digest: str,
    progress: bool,
) -> dict[str, Any]:
    catalog = Catalog(source.items)
    steps = tqdm(total=4 + len(catalog), desc="crs-agent index", unit="step", disable=not progress)
    catalog.save(build_dir / "catalog.jsonl")
    steps.set_postfix_str("knowledge graph")
    kg = KnowledgeGraph.build(catalog, source.triples)
    kg.save(build_dir / "kg.pkl")
    steps.update(1)
    steps.set_postfix_str("collaborative signals")
    # one cache for the suggestion bank and the item documents, seeded with the vectors shipped for both (so a
    # cold build embeds only texts that changed)
    cache = EmbeddingCache(settings.data_dir / "cache", embedder, seed=shipped_vectors(embedder))
    collab = CollaborativeSignals.build(catalog.ids(), source.ratings, source.interactions, embed=cache.embed)
    collab.save(build_dir)
    steps.update(1)
    steps.set_postfix_str("embeddings")
    vectors = unit_rows(cache.embed([item.document() for item in catalog], on_progress=steps.update))
    np.save(build_dir / "vectors.npy", vectors)
    steps.set_postfix_str("chroma")
    name = f"items-{digest}" if settings.chroma != "embedded" else f"items-{build_dir.name}"  # see _fill_items
    client = make_client(settings.chroma, settings.chroma_dir)
    _fill_items(client, name, catalog, vectors, embedder, shared=settings.chroma != "embedded")
    steps.update(2)
    steps.close()
    return {
        "schema_version": SCHEMA_VERSION,
        "input_hash": digest,
        "source": source.name,
        "catalog_path": str(settings.catalog) if settings.catalog else None,
        "embedder": {"name": embedder.name(), **embedder.get_config()},
        "chroma": settings.chroma,
        "items_collection": name,
        "items": len(catalog),
        "items_with_facts": sum(item.has_facts for item in catalog),
        "genres": catalog.genres(),
        "kg": kg.stats(),
        "collab": collab.stats(),
        "bad_rows": len(source.bad_rows),
        "files": list(_FILES),
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def _fill_items(
    client: Any,
    name: str,
    catalog: Catalog,
    vectors: np.ndarray,
    embedder: EmbeddingFunction[Documents],
    *,
    shared: bool,
) -> None:
    """Fill the ``items-<hash>`` collection. On a server (``shared``) a complete collection of the same inputs
    is kept as it is: another data directory (another app machine) may be searching it right now."""
    if shared and name in _collection_names(client) and ItemStore(client, name, embedder).count() == len(catalog):
        return
    store = ItemStore.create(client, name, embedder)
    genres = catalog.genres()
    items = list(catalog)
    for start in range(0, len(items), 2000):
        batch = items[start : start + 2000]
        store.add(
            [i.id for i in batch],
            [i.document() for i in batch],
            vectors[start : start + len(batch)],
            [item_metadata(i, genres) for i in batch],
        )


def _write_json(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2), encoding="utf-8")
    with tmp.open("rb") as handle:
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def _swap(settings: Settings, build_dir: Path) -> None:
    """Point ``index`` at ``build_dir`` atomically (a symlink replaced with ``os.replace``)."""
    link = settings.index_dir
    if link.exists() and not link.is_symlink():
        shutil.rmtree(link)  # a pre-symlink layout or a stray directory: never valid without a manifest
    tmp_link = settings.data_dir / f".index-{os.getpid()}"
    tmp_link.unlink(missing_ok=True)
    tmp_link.symlink_to(build_dir.relative_to(settings.data_dir), target_is_directory=True)
    os.replace(tmp_link, link)


def _drop_stale(settings: Settings, keep_dir: Path, keep_collection: str, replaced: dict[str, Any] | None) -> None:
    """Remove older builds. The embedded store belongs to this data directory: every other ``items-*`` goes.
    A server is shared with other data directories: only the collection this build replaced goes."""
    for old in (settings.data_dir / "builds").iterdir():
        if old != keep_dir:
            shutil.rmtree(old, ignore_errors=True)
    client = make_client(settings.chroma, settings.chroma_dir)
    names = _collection_names(client)
    if settings.chroma == "embedded":
        stale = [name for name in names if name.startswith("items-") and name != keep_collection]
    else:
        previous = (replaced or {}).get("items_collection")
        stale = [previous] if previous in names and previous != keep_collection else []
    for name in stale:
        client.delete_collection(name)


def _collection_names(client: Any) -> list[str]:
    return [c if isinstance(c, str) else c.name for c in client.list_collections()]


def _is_complete(settings: Settings, manifest: dict[str, Any]) -> bool:
    try:
        _check_complete(settings, manifest)
    except IndexIncompleteError:
        return False
    return True


def _check_complete(settings: Settings, manifest: dict[str, Any]) -> None:
    missing = [name for name in manifest.get("files", _FILES) if not (settings.index_dir / name).is_file()]
    if missing:
        raise IndexIncompleteError(settings.index_dir, f"missing {', '.join(missing)}")
    if manifest.get("chroma") != settings.chroma:
        raise IndexIncompleteError(settings.index_dir, f"built for Chroma {manifest.get('chroma')!r}")
    try:
        names = _store_names(settings)
    except ChromaError as err:  # e.g. chroma.sqlite3 overwritten or truncated: "file is not a database"
        raise IndexIncompleteError(settings.index_dir, f"the Chroma store cannot be read: {err}") from err
    if manifest["items_collection"] not in names:
        raise IndexIncompleteError(settings.index_dir, f"Chroma has no collection {manifest['items_collection']}")


def _store_names(settings: Settings) -> list[str]:
    """The collections in the Chroma store; ``ChromaError`` when it cannot be read."""
    try:
        return _collection_names(make_client(settings.chroma, settings.chroma_dir))
    except ChromaError:
        # Chroma 1.5 keeps a store that failed to open cached for its path, and every later client there
        # fails with AttributeError: forget it, so the next open (after a rebuild) starts afresh.
        SharedSystemClient._identifier_to_system.pop(str(settings.chroma_dir), None)
        raise


def _set_aside_unreadable_store(settings: Settings) -> None:
    """An embedded Chroma store that cannot be opened is renamed (kept for inspection) so a build can start
    a new one; the users' memory in it does not carry over, and the log says so."""
    if settings.chroma != "embedded" or not settings.chroma_dir.exists():
        return
    try:
        _store_names(settings)
    except ChromaError as err:
        store = settings.chroma_dir
        aside = store.with_name(f"{store.name}.unreadable-{time.strftime('%Y%m%d-%H%M%S')}")
        store.rename(aside)
        note = "users' memory in it is not carried over"
        log.warning(
            "The Chroma store in %s cannot be read (%s): moved it to %s, building a new one (%s).",
            store,
            err,
            aside,
            note,
        )


def index_status(settings: Settings) -> str:
    """``"missing"``, ``"incomplete"``, ``"stale"`` (inputs changed) or ``"ok"``."""
    try:
        manifest = read_manifest(settings)
    except IndexIncompleteError:
        return "incomplete"
    if manifest is None:
        return "missing"
    if not _is_complete(settings, manifest):
        return "incomplete"
    fingerprint = source_fingerprint(settings.catalog, settings.interactions)
    expected = _input_hash(fingerprint, make_embedder(settings.embedding_model))
    return "ok" if manifest.get("input_hash") == expected else "stale"


def load_knowledge(settings: Settings, embedder: EmbeddingFunction[Documents] | None = None) -> Knowledge:
    """Load a built index; raise a typed error that says what to run when it is missing or broken."""
    manifest = read_manifest(settings)
    if manifest is None:
        raise IndexMissingError(settings.index_dir)
    _check_complete(settings, manifest)
    if embedder is None:
        config = manifest["embedder"]
        embedder = make_embedder("hashing:" + str(config["dim"]) if "dim" in config else config["model"])
    d = settings.index_dir
    catalog = Catalog.load(d / "catalog.jsonl")
    vectors = np.load(d / "vectors.npy")
    if len(vectors) != len(catalog):
        raise IndexIncompleteError(d, "vectors and catalog disagree")
    client = make_client(settings.chroma, settings.chroma_dir)
    return Knowledge(
        settings=settings,
        manifest=manifest,
        catalog=catalog,
        kg=KnowledgeGraph.load(d / "kg.pkl"),
        collab=CollaborativeSignals.load(d),
        vectors=vectors,
        items=ItemStore(client, manifest["items_collection"], embedder),
        memory=MemoryStore(client, embedder),
        embedder=embedder,
    )


def ensure_index(settings: Settings, *, progress: bool = True, say: Callable[[str], None] = print) -> Knowledge:
    """Load the index, building it first when it is missing, incomplete or stale (chat and web start-up)."""
    status = index_status(settings)
    if status != "ok":
        say(f"Index is {status}: building it now (about a minute the first time).")
        build_index(settings, progress=progress)
    return load_knowledge(settings)
