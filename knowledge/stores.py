"""Chroma stores: the ``items`` collection (semantic search + metadata filters) and per-user ``memory``.

The client is embedded (``PersistentClient`` in the data directory) or a real Chroma server
(``HttpClient``), chosen by ``Settings.chroma``. Every collection is opened with an explicit embedding
function. Every memory query is filtered by ``user_id``: one user never sees another's memory.
"""

from __future__ import annotations

import functools
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import chromadb
from chromadb.api import ClientAPI
from chromadb.api.types import Documents, EmbeddingFunction
from chromadb.config import Settings as ChromaSettings

from crs_agent.knowledge.errors import VectorStoreUnavailableError
from crs_agent.knowledge.items import Item

__all__ = ["ItemStore", "MemoryRecord", "MemoryStore", "genre_key", "item_metadata", "make_client"]

MEMORY_COLLECTION = "memory"


def make_client(chroma: str, path: Path) -> ClientAPI:
    """An embedded client at ``path`` or an HTTP client for ``chroma`` = ``http://host:port``."""
    if chroma == "embedded":
        path.mkdir(parents=True, exist_ok=True)
        return chromadb.PersistentClient(
            path=str(path), settings=ChromaSettings(anonymized_telemetry=False, allow_reset=True)
        )
    return _http_client(chroma)


@functools.lru_cache(maxsize=16)
def _http_client(chroma: str) -> ClientAPI:
    """One client per server and process: each new one sets up TLS and asks the server for its tenant."""
    url = urlparse(chroma)
    try:
        return chromadb.HttpClient(
            host=url.hostname or "127.0.0.1",
            port=url.port or (443 if url.scheme == "https" else 8000),
            ssl=url.scheme == "https",
            settings=ChromaSettings(anonymized_telemetry=False, allow_reset=True),
        )
    except ValueError as err:  # chromadb: "Could not connect to a Chroma server. Are you sure it is running?"
        if "connect" not in str(err):
            raise
        raise VectorStoreUnavailableError(chroma) from err


def genre_key(genre: str) -> str:
    """Metadata key of a genre flag (Chroma filters scalars, so each genre is a boolean)."""
    return "g_" + "".join(ch if ch.isalnum() else "_" for ch in genre.lower())


def item_metadata(item: Item, genres: list[str]) -> dict[str, Any]:
    meta: dict[str, Any] = {"has_facts": item.has_facts, "popularity": item.popularity}
    if item.year:
        meta["year"] = item.year
    own = set(item.genres)
    for genre in genres:
        meta[genre_key(genre)] = genre in own
    return meta


class ItemStore:
    """The ``items`` collection of one index build."""

    def __init__(self, client: ClientAPI, name: str, embedder: EmbeddingFunction[Documents]) -> None:
        self.embedder = embedder
        self.collection = client.get_collection(name, embedding_function=embedder)
        self._count: int | None = None  # Chroma counts by scanning (10 ms at 100k items); a built index never changes

    @classmethod
    def create(cls, client: ClientAPI, name: str, embedder: EmbeddingFunction[Documents]) -> ItemStore:
        try:
            client.delete_collection(name)  # a half-built collection from an interrupted build
        except Exception:  # noqa: BLE001 - chroma raises different types for "not found" by mode
            pass
        client.create_collection(name, embedding_function=embedder, metadata={"hnsw:space": "cosine"})
        return cls(client, name, embedder)

    def add(self, ids: list[str], documents: list[str], vectors: Any, metadatas: list[dict[str, Any]]) -> None:
        self.collection.add(ids=ids, documents=documents, embeddings=vectors, metadatas=metadatas)
        self._count = None

    def count(self) -> int:
        if self._count is None:
            self._count = self.collection.count()
        return self._count

    def search(
        self,
        text: str | None = None,
        k: int = 50,
        where: dict[str, Any] | None = None,
        vector: Any = None,
        ids: list[str] | None = None,
    ) -> list[tuple[str, float]]:
        """Top ``k`` items by cosine similarity to ``text`` (or a query ``vector``), as (id, similarity).

        ``where`` filters on metadata (year, ``g_<genre>`` flags); ``ids`` restricts the search to those items.
        """
        if vector is None:
            vector = self.embedder([text or ""])[0]
        if ids is not None and not ids:
            return []
        k = max(1, min(k, len(ids) if ids else self.count()))
        result = self.collection.query(
            query_embeddings=[vector], n_results=k, where=where, ids=ids, include=["distances"]
        )
        return [(i, 1.0 - float(d)) for i, d in zip(result["ids"][0], result["distances"][0], strict=True)]


@dataclass(frozen=True)
class MemoryRecord:
    id: str
    user_id: str
    text: str
    kind: str
    created: float
    score: float = 0.0
    meta: dict[str, Any] = field(default_factory=dict)


class MemoryStore:
    """Per-user facts: stated preferences, feedback, session summaries."""

    def __init__(self, client: ClientAPI, embedder: EmbeddingFunction[Documents]) -> None:
        self.collection = client.get_or_create_collection(
            MEMORY_COLLECTION, embedding_function=embedder, metadata={"hnsw:space": "cosine"}
        )

    def remember(self, user_id: str, text: str, kind: str = "fact", **meta: str | int | float | bool) -> str:
        if not user_id or not text.strip():
            raise ValueError("remember needs a user id and a non-empty fact")
        record_id = uuid.uuid4().hex
        metadata = {"user_id": user_id, "kind": kind, "created": time.time(), **meta}
        self.collection.add(ids=[record_id], documents=[text.strip()], metadatas=[metadata])
        return record_id

    def _where(self, user_id: str, kind: str | None) -> dict[str, Any]:
        if not user_id:
            raise ValueError("memory is always read for one user: pass a user id")
        if kind is None:
            return {"user_id": user_id}
        return {"$and": [{"user_id": user_id}, {"kind": kind}]}

    def recall(self, user_id: str, query: str, k: int = 5, kind: str | None = None) -> list[MemoryRecord]:
        """The user's memories most similar to ``query`` (never another user's)."""
        where = self._where(user_id, kind)
        total = len(self.collection.get(where=where, include=[])["ids"])
        if total == 0:
            return []
        result = self.collection.query(
            query_texts=[query or " "],
            n_results=min(k, total),
            where=where,
            include=["documents", "metadatas", "distances"],
        )
        return [
            _record(i, doc, meta, 1.0 - float(dist))
            for i, doc, meta, dist in zip(
                result["ids"][0], result["documents"][0], result["metadatas"][0], result["distances"][0], strict=True
            )
        ]

    def all(self, user_id: str, kind: str | None = None) -> list[MemoryRecord]:
        """Every memory of the user, oldest first."""
        result = self.collection.get(where=self._where(user_id, kind), include=["documents", "metadatas"])
        records = [
            _record(i, doc, meta)
            for i, doc, meta in zip(result["ids"], result["documents"], result["metadatas"], strict=True)
        ]
        return sorted(records, key=lambda r: r.created)

    def forget(self, user_id: str) -> None:
        self.collection.delete(where=self._where(user_id, None))


def _record(record_id: str, doc: str, meta: dict[str, Any], score: float = 0.0) -> MemoryRecord:
    extra = {k: v for k, v in meta.items() if k not in ("user_id", "kind", "created")}
    return MemoryRecord(
        record_id, str(meta["user_id"]), doc, str(meta.get("kind", "fact")), float(meta["created"]), score, extra
    )
