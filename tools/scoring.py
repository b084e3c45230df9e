"""The one scoring function behind ``rank``: features, fitted weights, calibration and diversity.

Features of a candidate for a profile: semantic similarity to the wishes and to the liked items,
collaborative similarity to liked items (MovieLens ratings, dialogue co-mentions), KG proximity to liked
items and to wanted attributes, popularity, and a penalty for resembling disliked items. A logistic model
(weights in :class:`RankWeights`, fitted on the validation dialogues only) turns them into a raw score;
the calibrated score is the share of real accepted recommendations in the validation set that scored
lower, so 0.9 means "scores above 90% of the movies people were actually recommended", for every user.
"""

from __future__ import annotations

import json
import math
from bisect import bisect_left
from importlib import resources
from pathlib import Path

import numpy as np
from pydantic import BaseModel, Field

from crs_agent.knowledge import Knowledge, item_node
from crs_agent.tools.models import Profile

__all__ = ["FEATURES", "RankWeights", "Scorer", "mmr"]

FEATURES = (
    "semantic",
    "content",
    "collab_ratings",
    "collab_sessions",
    "kg_liked",
    "kg_attributes",
    "popularity",
    "disliked",
)
# How much sharing one entity of each relation with a liked item says.
RELATION_WEIGHTS = {"directed_by": 1.0, "written_by": 0.7, "stars": 0.5, "has_genre": 0.12, "released_in": 0.08}


class RankWeights(BaseModel):
    """Logistic weights per feature, the bias, calibration quantiles and the diversity trade-off."""

    weights: dict[str, float] = Field(default_factory=lambda: dict.fromkeys(FEATURES, 1.0))
    bias: float = 0.0
    positive_quantiles: list[float] = Field(
        default_factory=list, description="Raw scores of accepted recommendations (validation), sorted."
    )
    mmr_lambda: float = Field(default=0.85, ge=0.0, le=1.0, description="1 = pure relevance, 0 = pure diversity.")
    fitted_on: str = "unfitted defaults"

    @classmethod
    def default(cls) -> RankWeights:
        """The weights shipped with the package (fitted by ``python -m crs_agent.evals.tools_replay --fit``)."""
        path = Path(str(resources.files("crs_agent.tools") / "rank_weights.json"))
        return cls.model_validate_json(path.read_text()) if path.is_file() else cls()

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(self.model_dump(), indent=2) + "\n", encoding="utf-8")

    def raw(self, features: dict[str, float]) -> float:
        return self.bias + sum(self.weights.get(name, 0.0) * value for name, value in features.items())

    def calibrate(self, raw: float) -> float:
        """Share of validation positives scoring below ``raw`` (a logistic squash when unfitted)."""
        if not self.positive_quantiles:
            return 1.0 / (1.0 + math.exp(-raw))
        return bisect_left(self.positive_quantiles, raw) / len(self.positive_quantiles)


class Scorer:
    """Computes features for many candidates at once for one profile."""

    def __init__(self, knowledge: Knowledge, weights: RankWeights | None = None) -> None:
        self.k = knowledge
        self.weights = weights or RankWeights.default()

    def _vector(self, ids: list[str]) -> np.ndarray | None:
        rows = [self.k.row[i] for i in ids if i in self.k.row]
        if not rows:
            return None
        mean = self.k.vectors[rows].mean(axis=0)
        norm = float(np.linalg.norm(mean))
        return mean / norm if norm else None

    def features(self, candidate_ids: list[str], profile: Profile) -> list[dict[str, float]]:
        wish = profile.wish_text()
        wish_vec = np.asarray(self.k.embedder([wish])[0]) if wish else None
        liked_vec, disliked_vec = self._vector(profile.liked_ids), self._vector(profile.disliked_ids)
        rows = [self.k.row[i] for i in candidate_ids]
        vectors = self.k.vectors[rows]

        def sims(query: np.ndarray | None) -> np.ndarray:
            return np.zeros(len(rows)) if query is None else np.clip(vectors @ query, 0.0, 1.0)

        semantic, content, disliked = sims(wish_vec), sims(liked_vec), sims(disliked_vec)
        out = []
        for n, item_id in enumerate(candidate_ids):
            out.append(
                {
                    "semantic": float(semantic[n]),
                    "content": float(content[n]),
                    "collab_ratings": self._collab(item_id, profile.liked_ids, "ratings"),
                    "collab_sessions": self._collab(item_id, profile.liked_ids, "sessions"),
                    "kg_liked": self._kg_liked(item_id, profile.liked_ids),
                    "kg_attributes": self._kg_attributes(item_id, profile),
                    "popularity": self.k.catalog[item_id].popularity,
                    "disliked": float(disliked[n]),
                }
            )
        return out

    def _collab(self, item_id: str, liked: list[str], source: str) -> float:
        total = sum(max(self.k.collab.similarity(other, item_id, source), 0.0) for other in liked)
        return math.log1p(total * 4.0) / math.log1p(4.0)  # saturating: several liked neighbours > one

    def _kg_liked(self, item_id: str, liked: list[str]) -> float:
        near = self.k.kg.neighbours(item_node(item_id))
        total = 0.0
        for other in liked:
            for entity, relations in self.k.kg.neighbours(item_node(other)).items():
                if entity in near:
                    total += max(RELATION_WEIGHTS.get(rel, 0.5) for rel, _ in relations)
                elif entity == item_node(item_id):
                    total += 1.0  # a direct item-item relation (sequel_of...)
        return math.log1p(total)

    def _kg_attributes(self, item_id: str, profile: Profile) -> float:
        wanted = [*profile.genres, *profile.people]
        if not wanted:
            return 0.0
        item = self.k.catalog[item_id]
        have = {g.lower() for g in item.genres} | {n.lower() for n in item.names()}
        return sum(w.lower() in have for w in wanted) / len(wanted)

    def score(self, candidate_ids: list[str], profile: Profile) -> list[tuple[str, float, float, dict[str, float]]]:
        """(item id, raw score, calibrated score, features) for each candidate, best first."""
        scored = []
        for item_id, feats in zip(candidate_ids, self.features(candidate_ids, profile), strict=True):
            raw = self.weights.raw(feats)
            scored.append((item_id, raw, self.weights.calibrate(raw), feats))
        return sorted(scored, key=lambda s: -s[1])


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
