"""Text generators over the dialogue so far: BM25 over item documents, the MiniLM (or any) vectors, and the
training suggestions that followed words like these.

The item-document queries are the conversation, not the last message: every seeker message, most recent
weighted most, and (weighted less) what the recommender said.
"""

from __future__ import annotations

import bm25s
import numpy as np
from pydantic import Field

from crs_agent.knowledge import Item
from crs_agent.tools.candidates.base import Generator, GeneratorConfig, Resources, Turn

__all__ = ["Bm25Text", "ContextKnn", "ContextText", "DenseText", "bm25_document"]


def bm25_document(item: Item) -> str:
    """What BM25 matches: title, genres, every credited person, the description."""
    return " ".join([item.title, " ".join(item.genres), " ".join(item.names()), item.description])


def _bm25(resources: Resources) -> tuple[bm25s.BM25, dict[str, int]]:
    if "bm25" not in resources.cache:
        docs = [bm25_document(item) for item in resources.knowledge.catalog]
        retriever = bm25s.BM25()
        retriever.index(bm25s.tokenize(docs, stopwords="en", show_progress=False), show_progress=False)
        resources.cache["bm25"] = retriever, retriever.vocab_dict
    return resources.cache["bm25"]


class Bm25Config(GeneratorConfig):
    seeker_messages: int = Field(default=4, ge=1, le=30, description="How many of the latest seeker messages.")
    heard_messages: int = Field(default=1, ge=0, le=30, description="How many of the recommender's latest turns.")


class Bm25Text(Generator):
    """Items whose words (title, people, genres, plot) the conversation uses (BM25, ``bm25s``)."""

    name = "bm25"
    Config = Bm25Config
    config: Bm25Config

    def scores(self, turn: Turn) -> np.ndarray | None:
        p = turn.profile
        heard = p.heard[-self.config.heard_messages :] if self.config.heard_messages else []
        texts = turn.said[-self.config.seeker_messages :] + heard
        retriever, vocab = _bm25(self.resources)
        return _bm25_scores(retriever, vocab, texts)


class DenseConfig(GeneratorConfig):
    seeker_messages: int = Field(default=6, ge=1, le=30)
    decay: float = Field(default=0.7, gt=0.0, le=1.0, description="Weight of each older message relative to the next.")
    heard_weight: float = Field(default=0.0, ge=0.0, description="Weight of the recommender's last turn.")


def dialogue_vector(
    turn: Turn, seeker_messages: int, decay: float = 1.0, heard_weight: float = 0.0
) -> np.ndarray | None:
    """The recency-weighted mean of the latest seeker messages' vectors (each embedded once, when it was said)
    and, weighted ``heard_weight``, the recommender's last turn, normalised."""
    p, vectors = turn.profile, turn.resources.messages
    said = turn.said[-seeker_messages:]
    parts = [(decay ** (len(said) - 1 - n), vectors(t[:500])) for n, t in enumerate(said)]
    if p.heard and p.heard[-1].strip() and heard_weight:
        parts.append((heard_weight, vectors(p.heard[-1][:500])))
    if not parts:
        return None
    mean = sum(w * v for w, v in parts)
    norm = float(np.linalg.norm(mean))
    return mean / norm if norm else None


class DenseText(Generator):
    """Items whose document embedding is nearest the conversation's (exact dot over the index's vectors)."""

    name = "dense"
    Config = DenseConfig
    config: DenseConfig

    def scores(self, turn: Turn) -> np.ndarray | None:
        c = self.config
        query = dialogue_vector(turn, c.seeker_messages, c.decay, c.heard_weight)
        if query is None:
            return None
        return (self.resources.knowledge.vectors @ query.astype(np.float32)).astype(np.float32)


class ContextConfig(GeneratorConfig):
    seeker_messages: int = Field(default=4, ge=1, le=30)


class ContextText(Generator):
    """Items whose training suggestions followed words like the seeker's (BM25 over, per item, what seekers said
    just before a human recommender suggested it)."""

    name = "context"
    Config = ContextConfig
    config: ContextConfig

    def available(self) -> bool:
        return self.resources.collab.has("contexts")

    def _index(self) -> tuple[bm25s.BM25, dict[str, int]]:
        cache = self.resources.collab_cache
        if "context_bm25" not in cache:
            position, contexts = self.resources.collab.position, self.resources.collab.contexts
            docs = [contexts[position[i]] if i in position else "" for i in self.resources.arrays.ids]
            retriever = bm25s.BM25(k1=1.2, b=0.75)
            retriever.index(bm25s.tokenize(docs, stopwords="en", show_progress=False), show_progress=False)
            cache["context_bm25"] = retriever, retriever.vocab_dict
        return cache["context_bm25"]

    def scores(self, turn: Turn) -> np.ndarray | None:
        retriever, vocab = self._index()
        return _bm25_scores(retriever, vocab, turn.said[-self.config.seeker_messages :])


class ContextKnnConfig(GeneratorConfig):
    seeker_messages: int = Field(default=2, ge=1, le=10, description="Latest seeker turns the query is made of.")
    neighbours: int = Field(default=1000, ge=1, le=10000, description="Nearest training suggestions that vote.")
    power: float = Field(default=4.0, ge=0.0, le=32.0, description="A vote weighs its cosine to this power.")


class ContextKnn(Generator):
    """What human recommenders suggested after words most like the seeker's: the training suggestions whose
    preceding seeker turns are nearest (embedding cosine) the mean of the seeker's latest turns' vectors vote
    for their item, each vote weighing its cosine to ``power``. Unlike ``context``, which pools every
    context of an item into one BM25 document, each recommendation moment is matched on its own."""

    name = "context_knn"
    Config = ContextKnnConfig
    config: ContextKnnConfig

    def available(self) -> bool:
        return self.resources.collab.has("bank")

    def _bank(self) -> tuple[np.ndarray, np.ndarray]:
        """The bank's vectors and each one's catalog row, for the suggestions of catalog items."""
        cache = self.resources.collab_cache
        if "knn_bank" not in cache:
            collab, row = self.resources.collab, self.resources.arrays.row
            rows = np.array([row.get(i, -1) for i in collab.bank_items], dtype=np.int64)
            keep = rows >= 0
            cache["knn_bank"] = np.ascontiguousarray(collab.bank_vectors[keep], dtype=np.float32), rows[keep]
        return cache["knn_bank"]

    def scores(self, turn: Turn) -> np.ndarray | None:
        vectors, rows = self._bank()
        # The mean of the turns' own vectors, not the joined text embedded again: no embedding on this
        # generator's path, and no worse on validation (the closing note of issue 12).
        query = dialogue_vector(turn, self.config.seeker_messages)
        if rows.size == 0 or query is None or query.shape[0] != vectors.shape[1]:
            return None
        sims = vectors @ query.astype(np.float32)
        k = min(self.config.neighbours, sims.size)
        near = np.argpartition(-sims, k - 1)[:k]
        near = near[sims[near] > 0]
        if near.size == 0:
            return None
        votes = np.zeros(self.resources.arrays.size, dtype=np.float64)
        np.add.at(votes, rows[near], sims[near].astype(np.float64) ** self.config.power)
        return np.where(votes > 0, votes, np.nan).astype(np.float32)


def _bm25_scores(retriever: bm25s.BM25, vocab: dict[str, int], texts: list[str]) -> np.ndarray | None:
    tokens = bm25s.tokenize(" ".join(texts), stopwords="en", return_ids=False, show_progress=False)
    query = [t for t in (tokens[0] if tokens else []) if t in vocab]
    if not query:
        return None
    scores = np.asarray(retriever.get_scores(query), dtype=np.float32)
    return np.where(scores > 0, scores, np.nan).astype(np.float32)
