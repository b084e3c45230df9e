"""The recommender core: every candidate generator under the hard filter, pooled, then the trained ranker.

    core = RecommenderCore(knowledge)
    core.recommend(profile, k=50)        # best first, calibrated scores, per-generator components
    core.rank(["123", "456"], profile)   # score given items (those the hard filter allows)

What the ``tools`` evaluation system, the agent's ``rank`` tool and ``Toolkit.recommend`` share.
"""

from __future__ import annotations

from collections.abc import Collection

import numpy as np

from crs_agent.knowledge import ItemFilter, Knowledge
from crs_agent.tools.candidates import GENERATORS, Generator, Pool, Resources, Turn, make_generators, pool
from crs_agent.tools.evidence import answer_loglik
from crs_agent.tools.models import Candidate, Profile
from crs_agent.tools.ranking.features import features
from crs_agent.tools.ranking.model import Ranker

__all__ = ["RecommenderCore", "Scored"]


class Scored:
    """One turn's pool with its feature rows, raw and calibrated scores (best first)."""

    def __init__(self, turn: Turn, pooled: Pool, rows: np.ndarray, raw: np.ndarray, calibrated: np.ndarray) -> None:
        calibrated = calibrated * _evidence(turn, pooled.rows)
        order = np.lexsort((pooled.rows, -raw, -calibrated))  # calibration is monotone in raw: ties go by raw
        self.turn, self.pool = turn, pooled.select(order)
        self.features, self.raw, self.calibrated = rows[order], raw[order], calibrated[order]

    def ids(self) -> list[str]:
        ids = self.turn.resources.arrays.ids
        return [ids[r] for r in self.pool.rows]

    def candidates(self, k: int, source: str) -> list[Candidate]:
        catalog, ids = self.turn.resources.knowledge.catalog, self.turn.resources.arrays.ids
        out = []
        for n, row in enumerate(self.pool.rows[:k].tolist()):
            components = {
                name: round(float(values[row]), 4)
                for name, values in self.pool.scores.items()
                if values is not None and np.isfinite(values[row])
            }
            item = catalog[ids[row]]
            out.append(
                Candidate(
                    item_id=item.id,
                    title=item.label,
                    score=round(float(self.calibrated[n]), 4),
                    components=components,
                    sources=[source],
                )
            )
        return out


def _evidence(turn: Turn, rows: np.ndarray) -> np.ndarray:
    """What the seeker's answers to questions say of each row (1 for an item with every value they gave)."""
    answers = turn.profile.answers
    if not answers or rows.size == 0:
        return np.ones(rows.size)
    catalog, ids = turn.resources.knowledge.catalog, turn.resources.arrays.ids
    loglik = answer_loglik([catalog[ids[r]] for r in rows.tolist()], answers)
    return np.exp(loglik - loglik.max())


class RecommenderCore:
    """Generators + pool + ranker over one :class:`Knowledge` (``resources`` may carry out-of-fold signals)."""

    def __init__(
        self,
        knowledge: Knowledge,
        ranker: Ranker | None = None,
        resources: Resources | None = None,
        skip: Collection[str] = (),
    ) -> None:
        self.knowledge = knowledge
        self.resources = resources or Resources.of(knowledge)
        self.ranker = ranker or Ranker.default()
        unknown = sorted(set(skip) - {g.name for g in GENERATORS})
        if unknown:
            names = ", ".join(g.name for g in GENERATORS)
            raise ValueError(f"unknown candidate generator(s) {', '.join(unknown)}: choose from {names}")
        self.generators: list[Generator] = make_generators(self.resources, skip=frozenset(skip))

    def generator(self, name: str) -> Generator | None:
        return next((g for g in self.generators if g.name == name), None)

    def turn(self, profile: Profile, flt: ItemFilter | None = None) -> Turn:
        return Turn(profile, self.resources, flt)

    def score(self, turn: Turn, only: np.ndarray | None = None) -> Scored:
        """Pool (or take ``only``'s rows), compute features, rank: the whole turn."""
        pooled = pool(turn, self.generators, self.ranker.meta.pool, only)
        rows = features(turn, pooled)
        raw = self.ranker.raw(rows)
        return Scored(turn, pooled, rows, raw, self.ranker.calibrate(raw))

    def recommend(self, profile: Profile, k: int = 50) -> list[Candidate]:
        """The best ``k`` recommendable items for the conversation so far, calibrated scores in [0, 1]."""
        return self.score(self.turn(profile)).candidates(k, "recommend")

    def pooled(
        self, profile: Profile, generators: Collection[str] | None = None, extra: list[str] | None = None
    ) -> Scored:
        """The pool of the named generators (all by default), cut and fused as :meth:`recommend` pools, with
        ``extra`` items added (those the hard filter allows), ranked on every generator's evidence."""
        turn = self.turn(profile)
        chosen = [g for g in self.generators if generators is None or g.name in generators]
        rows = pool(turn, chosen, self.ranker.meta.pool).rows if chosen else np.zeros(0, dtype=np.int64)
        more = turn.rows(list(dict.fromkeys(extra or [])))
        return self.score(turn, only=np.unique(np.concatenate([rows, more[turn.mask[more]]])))

    def rank(self, item_ids: list[str], profile: Profile) -> list[Candidate]:
        """Score the given items that the profile's hard filter allows, best first."""
        turn = self.turn(profile)
        rows = turn.rows(list(dict.fromkeys(item_ids)))
        rows = rows[turn.mask[rows]]
        if rows.size == 0:
            return []
        return self.score(turn, only=rows).candidates(rows.size, "rank")
