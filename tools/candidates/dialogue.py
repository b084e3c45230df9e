"""Items named earlier in this conversation that are still recommendable: a movie the seeker mentioned or a
recommender suggested, liked but not seen (about one ReDial target in ten was named before). Seen,
disliked and turned-down items are excluded by the hard filter, as everywhere."""

from __future__ import annotations

import numpy as np

from crs_agent.tools.candidates.base import Generator, Turn

__all__ = ["EarlierNamed"]


class EarlierNamed(Generator):
    """Items named earlier in the conversation, the most recent first."""

    name = "dialogue"

    def scores(self, turn: Turn) -> np.ndarray | None:
        p = turn.profile
        scores = np.full(self.resources.arrays.size, np.nan, dtype=np.float32)
        for named in (p.liked_ids, p.mentioned_ids, p.suggested_ids):  # each list in its own order
            rows = turn.rows(named)
            recency = 1.0 / (1.0 + np.arange(rows.size, dtype=np.float32)[::-1])
            scores[rows] = np.fmax(scores[rows], recency)
        return None if np.isnan(scores).all() else scores
