"""Collaborative signals as sparse item-item similarity matrices (scipy CSR, top-k per row).

Two sources, kept separate so the ranker can weigh them: mean-centred cosine over MovieLens ratings
(mapped to catalog ids), and cosine over co-mentions in training-split dialogues.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import sparse

__all__ = ["CollaborativeSignals", "cosine_topk", "ratings_similarity", "sessions_similarity"]


def cosine_topk(matrix: sparse.csr_matrix, k: int = 50, min_support: int = 2) -> sparse.csr_matrix:
    """Item-item cosine of the columns of a user x item ``matrix``, keeping the top ``k`` per item.

    Pairs with fewer than ``min_support`` common users are dropped (noise from single co-occurrences).
    """
    matrix = sparse.csc_matrix(matrix, dtype=np.float32)
    norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=0))).ravel()
    norms[norms == 0] = 1.0
    unit = matrix @ sparse.diags(1.0 / norms)
    sims = (unit.T @ unit).tocsr()
    support = (matrix != 0).astype(np.float32)
    common = (support.T @ support).tocsr()
    sims = sims.multiply(common >= min_support).tocsr()
    sims.setdiag(0)
    sims.eliminate_zeros()
    return _keep_topk(sims, k)


def _keep_topk(sims: sparse.csr_matrix, k: int) -> sparse.csr_matrix:
    rows, cols, vals = [], [], []
    for i in range(sims.shape[0]):
        start, end = sims.indptr[i], sims.indptr[i + 1]
        row_vals = sims.data[start:end]
        if row_vals.size == 0:
            continue
        keep = np.argsort(-row_vals)[:k]
        keep = keep[row_vals[keep] > 0]
        rows.extend([i] * keep.size)
        cols.extend(sims.indices[start:end][keep])
        vals.extend(row_vals[keep])
    return sparse.csr_matrix((vals, (rows, cols)), shape=sims.shape, dtype=np.float32)


def ratings_similarity(ratings: list[tuple[str, str, float]], index: dict[str, int], k: int = 50) -> sparse.csr_matrix:
    """Mean-centred (per user) rating cosine, so two items liked by the same users score high."""
    users = {u: n for n, u in enumerate(sorted({u for u, _, _ in ratings}))}
    if not users:
        return sparse.csr_matrix((len(index), len(index)), dtype=np.float32)
    means: dict[str, list[float]] = {}
    for user, _, rating in ratings:
        means.setdefault(user, []).append(rating)
    mean = {u: sum(v) / len(v) for u, v in means.items()}
    rows = [users[u] for u, _, _ in ratings]
    cols = [index[i] for _, i, _ in ratings]
    vals = [r - mean[u] + 1e-3 for u, _, r in ratings]  # keep exact-mean ratings as (tiny) support
    matrix = sparse.csr_matrix((vals, (rows, cols)), shape=(len(users), len(index)), dtype=np.float32)
    return cosine_topk(matrix, k=k, min_support=3)


def sessions_similarity(sessions: list[list[str]], index: dict[str, int], k: int = 50) -> sparse.csr_matrix:
    """Cosine over dialogue co-mentions (each training dialogue is one binary row)."""
    rows, cols = [], []
    for n, session in enumerate(sessions):
        for item in set(session):
            if item in index:
                rows.append(n)
                cols.append(index[item])
    matrix = sparse.csr_matrix(
        (np.ones(len(rows), dtype=np.float32), (rows, cols)), shape=(max(len(sessions), 1), len(index))
    )
    return cosine_topk(matrix, k=k, min_support=1)


@dataclass
class CollaborativeSignals:
    """``ids[i]`` is the item of row/column ``i`` in every matrix."""

    ids: list[str]
    ratings: sparse.csr_matrix
    sessions: sparse.csr_matrix

    def __post_init__(self) -> None:
        self.position = {item: n for n, item in enumerate(self.ids)}

    @classmethod
    def build(
        cls, ids: list[str], ratings: list[tuple[str, str, float]], sessions: list[list[str]], k: int = 50
    ) -> CollaborativeSignals:
        index = {item: n for n, item in enumerate(ids)}
        return cls(ids, ratings_similarity(ratings, index, k), sessions_similarity(sessions, index, k))

    def neighbours(self, item_id: str, source: str = "ratings") -> dict[str, float]:
        """Most similar items to ``item_id`` under one source ("ratings" or "sessions")."""
        row = self.position.get(item_id)
        if row is None:
            return {}
        matrix: sparse.csr_matrix = getattr(self, source)
        start, end = matrix.indptr[row], matrix.indptr[row + 1]
        return {self.ids[j]: float(v) for j, v in zip(matrix.indices[start:end], matrix.data[start:end], strict=True)}

    def similarity(self, a: str, b: str, source: str = "ratings") -> float:
        i, j = self.position.get(a), self.position.get(b)
        if i is None or j is None:
            return 0.0
        return float(getattr(self, source)[i, j])

    def stats(self) -> dict[str, int]:
        linked = int((np.diff(self.ratings.indptr) > 0).sum())
        return {
            "items_with_rating_neighbours": linked,
            "ratings_pairs": self.ratings.nnz,
            "session_pairs": self.sessions.nnz,
        }

    def save(self, directory: Path) -> None:
        sparse.save_npz(directory / "collab_ratings.npz", self.ratings)
        sparse.save_npz(directory / "collab_sessions.npz", self.sessions)
        (directory / "collab_ids.json").write_text(json.dumps(self.ids), encoding="utf-8")

    @classmethod
    def load(cls, directory: Path) -> CollaborativeSignals:
        ids = json.loads((directory / "collab_ids.json").read_text(encoding="utf-8"))
        return cls(
            ids,
            sparse.load_npz(directory / "collab_ratings.npz").tocsr(),
            sparse.load_npz(directory / "collab_sessions.npz").tocsr(),
        )
