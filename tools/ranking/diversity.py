"""Diversity for the ``rank`` tool: maximal marginal relevance over item vectors."""

from __future__ import annotations

import numpy as np

__all__ = ["mmr"]


def mmr(ids: list[str], relevance: list[float], vectors: np.ndarray, lam: float, k: int) -> list[str]:
    """Maximal marginal relevance: trade relevance against similarity to items already picked."""
    if not ids:
        return []
    rel = np.asarray(relevance, dtype=np.float32)
    rel = (rel - rel.min()) / (float(rel.max() - rel.min()) or 1.0)
    picked: list[int] = []
    max_sim = np.zeros(len(ids), dtype=np.float32)
    available = np.ones(len(ids), dtype=bool)
    for _ in range(min(k, len(ids))):
        gain = np.where(available, lam * rel - (1.0 - lam) * max_sim, -np.inf)
        best = int(np.argmax(gain))
        picked.append(best)
        available[best] = False
        max_sim = np.maximum(max_sim, vectors @ vectors[best])
    return [ids[i] for i in picked]
