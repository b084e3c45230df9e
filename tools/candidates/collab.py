"""Collaborative generators: item-item EASE over the conversations' items, and MovieLens rating neighbours."""

from __future__ import annotations

import numpy as np
from pydantic import Field

from crs_agent.tools.candidates.base import Generator, GeneratorConfig, Turn

__all__ = ["DialogueCollab", "RatingNeighbours"]


def _propagate(turn: Turn, source: str, weights: dict[str, float]) -> np.ndarray | None:
    """Sum of the collaborative rows of the weighted items, as catalog-row scores (NaN where nothing links)."""
    res = turn.resources
    matrix = getattr(res.collab, source)
    position = res.collab.position
    pairs = [(position[i], w) for i, w in weights.items() if i in position and w]
    if not pairs or matrix.nnz == 0:
        return None
    rows = np.array([p for p, _ in pairs])
    w = np.array([v for _, v in pairs], dtype=np.float32)
    summed = np.asarray(matrix[rows].T @ w).ravel()
    out = np.full(res.arrays.size, np.nan, dtype=np.float32)
    mapped = res.collab_rows()
    ok = mapped >= 0
    values = np.where(ok, summed[np.where(ok, mapped, 0)], 0.0)
    hit = ok & (values > 0)
    out[hit] = values[hit]
    return out


class DialogueCollabConfig(GeneratorConfig):
    disliked_weight: float = Field(default=1.0, ge=0.0, description="Weight of a named item the seeker disliked.")
    suggested_weight: float = Field(default=1.0, ge=0.0, description="Weight of an item a recommender named.")


class DialogueCollab(Generator):
    """Items that conversations naming the same movies went on to name (EASE over every training conversation)."""

    name = "collab"
    Config = DialogueCollabConfig
    config: DialogueCollabConfig

    def available(self) -> bool:
        return self.resources.collab.has("sessions")

    def scores(self, turn: Turn) -> np.ndarray | None:
        disliked = set(turn.profile.disliked_ids)
        mentioned = set(turn.profile.mentioned_ids) | set(turn.profile.liked_ids)
        weights = {}
        for item_id in turn.named:
            if item_id in disliked:
                weights[item_id] = self.config.disliked_weight
            else:
                weights[item_id] = 1.0 if item_id in mentioned else self.config.suggested_weight
        return _propagate(turn, "sessions", weights)


class RatingNeighbours(Generator):
    """Items rated like the named movies by the same MovieLens users (mean-centred rating cosine)."""

    name = "ratings"

    def available(self) -> bool:
        return self.resources.collab.has("ratings")

    def scores(self, turn: Turn) -> np.ndarray | None:
        return _propagate(turn, "ratings", dict.fromkeys(turn.positive, 1.0))
