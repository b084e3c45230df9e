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
        ratings, sessions = self._collab(profile.liked_ids, "ratings"), self._collab(profile.liked_ids, "sessions")
        entity_weight, linked = self._liked_entities(profile.liked_ids)
        wanted = {w.lower() for w in [*profile.genres, *profile.people]}
        out = []
        for n, item_id in enumerate(candidate_ids):
            item = self.k.catalog[item_id]
            near = self.k.kg.neighbours(item_node(item_id))
            kg = sum(entity_weight.get(e, 0.0) for e in near) + linked.get(item_id, 0.0)
            have = {g.lower() for g in item.genres} | {name.lower() for name in item.names()}
            out.append(
                {
                    "semantic": float(semantic[n]),
                    "content": float(content[n]),
                    "collab_ratings": _saturate(ratings.get(item_id, 0.0)),
                    "collab_sessions": _saturate(sessions.get(item_id, 0.0)),
                    "kg_liked": math.log1p(kg),
                    "kg_attributes": len(wanted & have) / len(wanted) if wanted else 0.0,
                    "popularity": item.popularity,
                    "disliked": float(disliked[n]),
                }
            )
        return out

    def _collab(self, liked: list[str], source: str) -> dict[str, float]:
        """Summed positive similarity of every item to the liked ones (one sparse row per liked item)."""
        totals: dict[str, float] = {}
        for other in liked:
            for item_id, sim in self.k.collab.neighbours(other, source).items():
                if sim > 0:
                    totals[item_id] = totals.get(item_id, 0.0) + sim
        return totals

    def _liked_entities(self, liked: list[str]) -> tuple[dict[str, float], dict[str, float]]:
        """Weight of each KG entity shared with liked items, and direct item-item links (sequel_of...)."""
        weights: dict[str, float] = {}
        linked: dict[str, float] = {}
        for other in liked:
            for entity, relations in self.k.kg.neighbours(item_node(other)).items():
                if entity.startswith("item:"):
                    linked[entity[5:]] = linked.get(entity[5:], 0.0) + 1.0
                else:
                    weight = max(RELATION_WEIGHTS.get(rel, 0.5) for rel, _ in relations)
                    weights[entity] = weights.get(entity, 0.0) + weight
        return weights, linked

    def score(self, candidate_ids: list[str], profile: Profile) -> list[tuple[str, float, float, dict[str, float]]]:
        """(item id, raw score, calibrated score, features) for each candidate, best first."""
        scored = []
        for item_id, feats in zip(candidate_ids, self.features(candidate_ids, profile), strict=True):
            raw = self.weights.raw(feats)
            scored.append((item_id, raw, self.weights.calibrate(raw), feats))
        return sorted(scored, key=lambda s: -s[1])


def _saturate(total: float) -> float:
    """Several similar liked items count more than one, with diminishing returns."""
    return math.log1p(total * 4.0) / math.log1p(4.0)


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
