"""Knowledge-graph generators: neighbours of the named movies (shared people, item relations), and the work
of the people the seeker named (an item crediting several of them scores higher)."""

from __future__ import annotations

import numpy as np
from pydantic import Field

from crs_agent.tools.candidates.base import Generator, GeneratorConfig, Turn

__all__ = ["KgNeighbours", "PeopleNamed"]


def _nan_zero(scores: np.ndarray) -> np.ndarray:
    return np.where(scores > 0, scores, np.nan).astype(np.float32)


class KgConfig(GeneratorConfig):
    suggested_weight: float = Field(default=0.5, ge=0.0, description="Weight of a movie a recommender named.")
    relation_weight: float = Field(default=2.0, ge=0.0, description="A direct item relation (sequel_of...).")
    prolific_damping: float = Field(
        default=1.0, ge=0.0, description="Down-weight people credited on many items: 1 / (1 + log(1 + degree))^x."
    )


class KgNeighbours(Generator):
    """Items sharing directors, writers or stars (by role weight) with the named movies, or related to them."""

    name = "kg"
    Config = KgConfig
    config: KgConfig

    def scores(self, turn: Turn) -> np.ndarray | None:
        arrays = self.resources.arrays
        suggested = set(turn.profile.suggested_ids) - set(turn.profile.mentioned_ids) - set(turn.profile.liked_ids)
        weights = {i: (self.config.suggested_weight if i in suggested else 1.0) for i in turn.positive}
        rows = turn.rows(list(weights))
        if rows.size == 0:
            return None
        w = np.array([weights[arrays.ids[r]] for r in rows], dtype=np.float32)
        entity = np.asarray(arrays.people[rows].T @ w).ravel()
        entity /= (1.0 + np.log1p(arrays.person_degree)) ** self.config.prolific_damping
        scores = np.asarray(arrays.people @ entity).ravel()
        if arrays.relations.nnz:
            scores += self.config.relation_weight * np.asarray(arrays.relations[rows].T @ w).ravel()
        scores[rows] = 0.0  # never "similar to itself"
        return _nan_zero(scores)


class PeopleNamed(Generator):
    """Items crediting the people the seeker asked for: one point per named person, by role weight."""

    name = "people"

    def scores(self, turn: Turn) -> np.ndarray | None:
        if not turn.profile.people:
            return None
        arrays = self.resources.arrays
        scores = np.zeros(arrays.size, dtype=np.float32)
        for name in turn.profile.people:
            scores += arrays.person_column(name)
        return _nan_zero(scores)
