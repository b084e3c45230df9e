"""Fitting the ranker (lenskit's train / predict split): examples -> feature matrices -> LightGBM lambdarank,
early-stopped on validation turns, then isotonic calibration on the same validation turns.

Examples are built by the caller (``crs_agent.evals.fit_ranker`` replays real dialogues exactly as the
evaluation and the agent read them); this module only needs, for each turn, the profile, the targets and
the :class:`RecommenderCore` whose signals are out of fold for it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import lightgbm as lgb
import numpy as np
from pydantic import BaseModel, Field
from sklearn.isotonic import IsotonicRegression

from crs_agent.tools.candidates import GENERATORS
from crs_agent.tools.models import Profile
from crs_agent.tools.ranking.core import RecommenderCore, Scored
from crs_agent.tools.ranking.features import FEATURE_NAMES

__all__ = [
    "Example",
    "FitConfig",
    "Matrix",
    "calibration",
    "drop_generator",
    "fingerprint",
    "fit_booster",
    "matrix",
    "recall",
    "turn_hits",
    "without_generator",
]


class FitConfig(BaseModel):
    """The fit's settings; every random choice derives from ``seed``."""

    seed: int = 12
    folds: int = Field(default=5, ge=2, description="Out-of-fold collaborative signals for the training turns.")
    negatives: int = Field(default=120, ge=10, description="Sampled non-target candidates per training turn.")
    dropout: float = Field(default=0.15, ge=0, le=1, description="Share of training turns with one generator blanked.")
    rounds: int = Field(default=600, ge=1)
    early_stopping: int = Field(default=40, ge=1)
    threads: int = Field(default=1, ge=1, description="LightGBM threads (the shipped fit uses one).")
    learning_rate: float = 0.05
    num_leaves: int = 31
    min_data_in_leaf: int = 100

    def params(self) -> dict:
        return {
            "objective": "lambdarank",
            "metric": "ndcg",
            "eval_at": [10, 50],
            "learning_rate": self.learning_rate,
            "num_leaves": self.num_leaves,
            "min_data_in_leaf": self.min_data_in_leaf,
            "feature_fraction": 0.8,
            "bagging_fraction": 0.8,
            "bagging_freq": 1,
            "lambdarank_truncation_level": 60,
            "num_threads": self.threads,
            "seed": self.seed,
            "deterministic": True,
            "force_row_wise": True,
            "verbosity": -1,
        }


@dataclass
class Example:
    """One recommendation turn: who (for folds), what the system knew, and what the recommender named next."""

    group: str
    profile: Profile
    targets: list[str]
    new: list[str]


@dataclass
class Matrix:
    """Stacked feature rows of many turns, with labels, group sizes and per-turn bookkeeping."""

    rows: np.ndarray
    labels: np.ndarray
    sizes: list[int]
    examples: list[Example] = field(default_factory=list)
    ids: list[list[str]] = field(default_factory=list)  # each turn's pooled ids, in row order

    def starts(self) -> np.ndarray:
        return np.concatenate([[0], np.cumsum(self.sizes)]).astype(np.int64)


def fingerprint(*matrices: Matrix) -> str:
    """sha256 of the matrices a ranker is fitted on (rows, labels, group sizes, candidate ids): the fit is
    deterministic, so two fits with the same fingerprint, seed and config give the same trees, and a refit
    that gives other trees built other matrices (another index, embedding cache or data)."""
    digest = hashlib.sha256()
    for m in matrices:
        digest.update(np.ascontiguousarray(m.rows, dtype=np.float64).tobytes())
        digest.update(np.ascontiguousarray(m.labels, dtype=np.float64).tobytes())
        digest.update(np.asarray(m.sizes, dtype=np.int64).tobytes())
        digest.update("\n".join(" ".join(turn) for turn in m.ids).encode())
        digest.update(b"\x00")
    return digest.hexdigest()


def _sample(labels: np.ndarray, negatives: int, rng: np.random.Generator) -> np.ndarray:
    pos, neg = np.flatnonzero(labels), np.flatnonzero(labels == 0)
    if neg.size > negatives:
        neg = rng.choice(neg, negatives, replace=False)
    return np.sort(np.concatenate([pos, neg]))


def matrix(
    pairs: Iterable[tuple[RecommenderCore, Example]],
    negatives: int | None = None,
    seed: int = 0,
    dropout: float = 0.0,
    observe: Callable[[Example, Scored], None] | None = None,
) -> Matrix:
    """Feature rows of every turn (all pooled candidates, or targets plus ``negatives`` sampled ones);
    ``observe`` sees each turn's scored pool (for per-generator tables)."""
    rng = np.random.default_rng(seed)
    blocks, labels, sizes, examples, ids = [], [], [], [], []
    for core, example in pairs:
        scored = core.score(core.turn(example.profile))
        if observe is not None:
            observe(example, scored)
        pooled = scored.ids()
        label = np.isin(pooled, example.targets).astype(np.float32)
        keep = np.arange(label.size) if negatives is None else _sample(label, negatives, rng)
        if negatives is not None and not label.any():
            continue  # a training turn whose targets the pool missed teaches the ranker nothing
        rows = scored.features[keep]
        if dropout and rng.random() < dropout:
            rows = drop_generator(rows, GENERATORS[rng.integers(len(GENERATORS))].name)
        blocks.append(rows)
        labels.append(label[keep])
        sizes.append(int(keep.size))
        examples.append(example)
        ids.append([pooled[k] for k in keep])
    stacked = np.vstack(blocks) if blocks else np.zeros((0, len(FEATURE_NAMES)), dtype=np.float32)
    return Matrix(stacked, np.concatenate(labels) if labels else np.zeros(0), sizes, examples, ids)


def drop_generator(rows: np.ndarray, name: str) -> np.ndarray:
    """The rows as if generator ``name`` had not run (its score and rank missing)."""
    out = rows.copy()
    for kind in ("score", "rank", "rel"):
        out[:, FEATURE_NAMES.index(f"{name}_{kind}")] = np.nan
    return out


def fit_booster(train: Matrix, valid: Matrix | None, config: FitConfig, drop: Iterable[str] = ()) -> lgb.Booster:
    """LightGBM lambdarank on ``train``, early-stopped on ``valid`` (``config.rounds`` trees without it);
    ``drop`` names feature columns left out."""
    blank = [FEATURE_NAMES.index(f) for f in drop]

    def data(m: Matrix, reference: lgb.Dataset | None = None) -> lgb.Dataset:
        rows = m.rows.copy()
        rows[:, blank] = np.nan
        sizes = [s for s in m.sizes if s]
        return lgb.Dataset(rows, m.labels, group=sizes, feature_name=FEATURE_NAMES, reference=reference)

    train_set = data(train)
    if valid is None:
        return lgb.train(config.params(), train_set, num_boost_round=config.rounds)
    return lgb.train(
        config.params(),
        train_set,
        num_boost_round=config.rounds,
        valid_sets=[data(valid, train_set)],
        callbacks=[lgb.early_stopping(config.early_stopping, first_metric_only=False, verbose=False)],
    )


def calibration(raw: np.ndarray, labels: np.ndarray, points: int = 200) -> tuple[list[float], list[float]]:
    """An isotonic map from raw score to P(target), thinned to about ``points`` knots for the JSON file."""
    iso = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(raw, labels)
    xs = np.asarray(iso.X_thresholds_, dtype=np.float64)
    ys = np.asarray(iso.y_thresholds_, dtype=np.float64)
    if xs.size > points:
        keep = np.unique(np.concatenate([np.linspace(0, xs.size - 1, points).astype(int), [xs.size - 1]]))
        xs, ys = xs[keep], ys[keep]
    return [round(float(x), 6) for x in xs], [round(float(y), 6) for y in ys]


def turn_hits(
    m: Matrix, raw: np.ndarray, cutoffs: tuple[int, ...] = (1, 10, 50), new: bool = False
) -> tuple[dict[int, np.ndarray], np.ndarray]:
    """Per turn of ``m``: how many of its targets ``raw`` ranks in the top k (by cutoff), and how many targets
    it has (targets the pool missed count, as misses)."""
    hits = {k: np.zeros(len(m.sizes)) for k in cutoffs}
    samples = np.zeros(len(m.sizes))
    for n, start in enumerate(m.starts()[:-1]):
        order = np.argsort(-raw[start : start + m.sizes[n]], kind="stable")
        ranked = [m.ids[n][i] for i in order]
        targets = m.examples[n].new if new else m.examples[n].targets
        samples[n] = len(targets)
        for k in cutoffs:
            top = set(ranked[:k])
            hits[k][n] = sum(t in top for t in targets)
    return hits, samples


def recall(m: Matrix, raw: np.ndarray, cutoffs: tuple[int, ...] = (1, 10, 50), new: bool = False) -> dict[int, float]:
    """Recall@k over every target of every turn (targets the pool missed count as misses)."""
    hits, samples = turn_hits(m, raw, cutoffs, new)
    total = max(float(samples.sum()), 1.0)
    return {k: round(float(hits[k].sum()) / total, 4) for k in cutoffs}


def without_generator(m: Matrix, name: str, quotas: dict[str, int], weights: dict[str, float], rrf_k: float) -> Matrix:
    """``m`` as if generator ``name`` had not run: the candidates only it brought into the pool are gone, its
    columns are missing and the fused score lacks its share (the pool is not refilled past its cut)."""
    col = {f: FEATURE_NAMES.index(f) for f in FEATURE_NAMES}
    rank = m.rows[:, col[f"{name}_rank"]]
    in_quota = np.zeros(len(m.labels), dtype=np.int32)
    for gen in GENERATORS:
        r = m.rows[:, col[f"{gen.name}_rank"]]
        in_quota += np.nan_to_num(r, nan=np.inf) <= quotas.get(gen.name, 100)
    mine = np.nan_to_num(rank, nan=np.inf) <= quotas.get(name, 100)
    keep = ~(mine & (in_quota == 1))
    rows = drop_generator(m.rows, name)
    rows[:, col["fused"]] -= np.where(np.isnan(rank), 0.0, weights.get(name, 1.0) / (rrf_k + np.nan_to_num(rank)))
    rows[:, col["n_found"]] -= np.isfinite(rank)
    starts = m.starts()
    sizes, ids = [], []
    for n in range(len(m.sizes)):
        part = keep[starts[n] : starts[n + 1]]
        sizes.append(int(part.sum()))
        ids.append([i for i, k in zip(m.ids[n], part, strict=True) if k])
    return Matrix(rows[keep], m.labels[keep], sizes, m.examples, ids)
