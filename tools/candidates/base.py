"""What every candidate generator shares: the protocol, the per-index resources and the per-turn context.

A generator scores the whole catalog for one turn (:meth:`Generator.scores`: one float per catalog row, NaN
where it has no evidence) and returns its best ``n`` under the hard filter (:meth:`Generator.candidates`).
Scores are only comparable within one generator; the ranker learns how to weigh them.
"""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from collections import OrderedDict
from dataclasses import dataclass
from functools import cached_property
from typing import ClassVar

import numpy as np
from pydantic import BaseModel, ConfigDict

from crs_agent.knowledge import CollaborativeSignals, ItemFilter, Knowledge
from crs_agent.knowledge.loaders import popularity_prior
from crs_agent.tools.candidates.arrays import CatalogArrays
from crs_agent.tools.models import Profile

__all__ = ["Generator", "GeneratorConfig", "MessageVectors", "Resources", "Turn", "top_n"]


class GeneratorConfig(BaseModel):
    """Base of every generator's config."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class MessageVectors:
    """Embeddings of conversation messages, each computed once (a bounded LRU; ``prime`` embeds in batches)."""

    def __init__(self, knowledge: Knowledge, capacity: int = 4096) -> None:
        self.embedder = knowledge.embedder
        self.capacity = capacity
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()

    def prime(self, texts: list[str], batch: int = 256) -> None:
        todo = list(dict.fromkeys(t for t in texts if t not in self._cache))
        self.capacity = max(self.capacity, len(self._cache) + len(todo))
        for start in range(0, len(todo), batch):
            chunk = todo[start : start + batch]
            for text, vector in zip(chunk, self.embedder(chunk), strict=True):
                self._cache[text] = np.asarray(vector, dtype=np.float32)

    def put(self, texts: list[str], vectors: np.ndarray) -> None:
        """Vectors computed elsewhere (e.g. through the disk cache), kept without a size bound."""
        self.capacity = max(self.capacity, len(self._cache) + len(texts))
        for text, vector in zip(texts, vectors, strict=True):
            self._cache[text] = np.asarray(vector, dtype=np.float32)

    def __call__(self, text: str) -> np.ndarray:
        vector = self._cache.get(text)
        if vector is None:
            vector = np.asarray(self.embedder([text])[0], dtype=np.float32)
            self._cache[text] = vector
            while len(self._cache) > self.capacity:
                self._cache.popitem(last=False)
        else:
            self._cache.move_to_end(text)
        return vector


@dataclass
class Resources:
    """Built once per index and shared by every generator: the catalog arrays, the collaborative signals
    (replaceable, for out-of-fold fitting), message vectors, and lazily the BM25 index."""

    knowledge: Knowledge
    arrays: CatalogArrays
    collab: CollaborativeSignals
    messages: MessageVectors
    cache: dict  # derived from the catalog (shared by every copy)
    collab_cache: dict  # derived from ``collab`` (a copy with other signals starts afresh)

    @classmethod
    def of(cls, knowledge: Knowledge) -> Resources:
        return cls(knowledge, CatalogArrays(knowledge), knowledge.collab, MessageVectors(knowledge), {}, {})

    def with_collab(self, collab: CollaborativeSignals) -> Resources:
        """The same resources over other collaborative signals (the text and catalog parts are shared). The
        items' popularity prior is recounted from these signals' mentions: the catalog's own prior counts every
        training conversation, so out-of-fold signals would otherwise still see the held-out ones through it."""
        return dataclasses.replace(self, collab=collab, collab_cache={})

    def popularity(self) -> np.ndarray:
        """Each catalog row's popularity prior in [0, 1]: the catalog's over the index's own signals, recounted
        from ``collab`` over any other."""
        if self.collab is self.knowledge.collab or not self.collab.has("mentioned"):
            return self.arrays.popularity
        if "popularity" not in self.collab_cache:
            prior = popularity_prior(self.collab_counts("mentioned"), self.arrays.rating_counts)
            self.collab_cache["popularity"] = prior.astype(np.float32)
        return self.collab_cache["popularity"]

    def collab_rows(self) -> np.ndarray:
        """Each catalog row's row in the collaborative matrices and counts (-1: not there)."""
        if "rows" not in self.collab_cache:
            position = self.collab.position
            self.collab_cache["rows"] = np.array([position.get(i, -1) for i in self.arrays.ids], dtype=np.int64)
        return self.collab_cache["rows"]

    def collab_counts(self, name: str) -> np.ndarray:
        """An interaction count per catalog row ("mentioned", "suggested", "accepted")."""
        key = ("count", name)
        if key not in self.collab_cache:
            rows = self.collab_rows()
            ok = rows >= 0
            counts = self.collab.counts[name]
            self.collab_cache[key] = np.where(ok, counts[np.where(ok, rows, 0)], 0.0).astype(np.float32)
        return self.collab_cache[key]


class Turn:
    """One turn's context for every generator: the profile, its hard-filter mask and what it named."""

    def __init__(self, profile: Profile, resources: Resources, flt: ItemFilter | None = None) -> None:
        # re-validated: folding messages can leave contradictory year bounds, which constrain nothing
        self.profile = Profile.model_validate(profile.model_dump())
        self.resources = resources
        self.filter = flt if flt is not None else self.profile.hard_filter()
        self.mask = resources.arrays.mask(self.filter)
        self._scores: dict[str, np.ndarray | None] = {}

    def scores(self, generator: Generator) -> np.ndarray | None:
        """``generator``'s catalog scores for this turn, computed once however often they are asked for."""
        if generator.name not in self._scores:
            self._scores[generator.name] = generator.scores(self)
        return self._scores[generator.name]

    def rows(self, ids: list[str]) -> np.ndarray:
        return self.resources.arrays.rows_of(ids)

    @cached_property
    def said(self) -> list[str]:
        """The seeker's messages (or, in a profile built without them, the wishes)."""
        return [t for t in (self.profile.said or self.profile.wishes) if t.strip()]

    @cached_property
    def named(self) -> list[str]:
        """Every item named in the conversation so far (by the seeker or a recommender), in order."""
        return list(dict.fromkeys([*self.profile.mentioned_ids, *self.profile.suggested_ids, *self.profile.liked_ids]))

    @cached_property
    def positive(self) -> list[str]:
        """Named items the seeker did not dislike."""
        disliked = set(self.profile.disliked_ids)
        return [i for i in self.named if i not in disliked]


def top_n(scores: np.ndarray | None, mask: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows of the ``n`` best finite scores where ``mask`` holds (best first, ties by row), and their scores."""
    if scores is None or n <= 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
    valid = np.flatnonzero(mask & np.isfinite(scores))
    if valid.size > n:
        part = np.argpartition(-scores[valid], n - 1)[:n]
        valid = valid[part]
    order = np.lexsort((valid, -scores[valid]))
    return valid[order], scores[valid[order]]


class Generator(ABC):
    """A candidate generator: ``candidates(profile, flt, n) -> {item id: score}``, best first."""

    name: ClassVar[str]
    Config: ClassVar[type[GeneratorConfig]] = GeneratorConfig

    def __init__(self, resources: Resources, config: GeneratorConfig | None = None) -> None:
        self.resources = resources
        self.config = config or self.Config()

    @abstractmethod
    def scores(self, turn: Turn) -> np.ndarray | None:
        """One score per catalog row (NaN: no evidence), or None when this turn gives the generator nothing."""

    def available(self) -> bool:
        """Whether the index holds this generator's signal at all (no dialogues: no dialogue generator)."""
        return True

    def candidates(self, profile: Profile, flt: ItemFilter | None = None, n: int = 100) -> dict[str, float]:
        turn = Turn(profile, self.resources, flt)
        rows, values = top_n(self.scores(turn), turn.mask, n)
        ids = self.resources.arrays.ids
        return {ids[r]: float(v) for r, v in zip(rows, values, strict=True)}
