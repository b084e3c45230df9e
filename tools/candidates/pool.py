"""Pooling: every generator's best items under the hard filter, merged into one candidate pool.

Each generator contributes up to its quota; the union is cut to ``size`` by weighted reciprocal-rank fusion
(the sum over generators of ``weight / (rrf_k + rank)``), so an item several generators found ranks above one
found by a single generator at the same depth. Weights and quotas were tuned for pooled recall on the
validation turns (signals fitted without the validation conversations).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from crs_agent.tools.candidates.base import Generator, Turn, top_n

__all__ = ["DEFAULT_QUOTAS", "DEFAULT_WEIGHTS", "Pool", "PoolConfig", "pool"]

DEFAULT_QUOTAS = {
    "collab": 1000,
    "ratings": 300,
    "bm25": 300,
    "context": 600,
    "context_knn": 300,
    "dense": 600,
    "kg": 300,
    "people": 200,
    "popular": 1000,
    "popular_genre": 1000,
    "dialogue": 100,
}
DEFAULT_WEIGHTS = {
    "collab": 2.0,
    "ratings": 0.7,
    "bm25": 0.5,
    "context": 0.7,
    "context_knn": 1.0,
    "dense": 0.5,
    "kg": 0.7,
    "people": 1.0,
    "popular": 2.0,
    "popular_genre": 2.0,
    "dialogue": 1.0,
}


class PoolConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    size: int = Field(default=500, ge=1, le=5000, description="Candidates kept for the ranker.")
    rrf_k: float = Field(default=100.0, gt=0, description="Rank offset of the fusion: larger = flatter.")
    quotas: dict[str, int] = Field(default_factory=lambda: dict(DEFAULT_QUOTAS), description="Per generator.")
    weights: dict[str, float] = Field(default_factory=lambda: dict(DEFAULT_WEIGHTS), description="Fusion weights.")


@dataclass
class Pool:
    """The pooled rows (best fused first), their fused score, and each generator's catalog scores and the
    pooled rows' ranks in it (NaN: the generator did not score the row)."""

    rows: np.ndarray
    fused: np.ndarray
    scores: dict[str, np.ndarray | None] = field(default_factory=dict)
    ranks: dict[str, np.ndarray] = field(default_factory=dict)
    best: dict[str, float] = field(default_factory=dict)  # each generator's best score this turn (under the filter)

    def select(self, keep: np.ndarray) -> Pool:
        """The same pool restricted to positions ``keep``."""
        ranks = {g: r[keep] for g, r in self.ranks.items()}
        return Pool(self.rows[keep], self.fused[keep], self.scores, ranks, self.best)


def _ranks(scores: np.ndarray | None, mask: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, float]:
    """Rank (1 = best) of each of ``rows`` among the rows ``mask`` accepts (NaN where unscored), and the best."""
    out = np.full(rows.size, np.nan, dtype=np.float32)
    if scores is None:
        return out, np.nan
    valid = np.sort(scores[mask & np.isfinite(scores)])
    mine = scores[rows]
    finite = np.isfinite(mine)
    out[finite] = 1 + valid.size - np.searchsorted(valid, mine[finite], side="right")
    return out, float(valid[-1]) if valid.size else np.nan


def pool(turn: Turn, generators: list[Generator], config: PoolConfig, only: np.ndarray | None = None) -> Pool:
    """Run every generator once for ``turn`` and pool their best rows; with ``only``, score exactly those rows."""
    scores = {gen.name: turn.scores(gen) for gen in generators}
    if only is None:
        found = [top_n(values, turn.mask, config.quotas.get(name, 100))[0] for name, values in scores.items()]
        union = np.unique(np.concatenate(found)) if found else np.zeros(0, dtype=np.int64)
    else:
        union = np.asarray(only, dtype=np.int64)
    ranked = {name: _ranks(values, turn.mask, union) for name, values in scores.items()}
    ranks = {name: r for name, (r, _) in ranked.items()}
    best = {name: b for name, (_, b) in ranked.items()}
    fused = np.zeros(union.size, dtype=np.float32)
    for name, rank in ranks.items():
        fused += np.where(np.isnan(rank), 0.0, config.weights.get(name, 1.0) / (config.rrf_k + np.nan_to_num(rank)))
    order = np.lexsort((union, -fused))
    if only is None:
        order = order[: config.size]
    return Pool(union, fused, scores, ranks, best).select(order)
