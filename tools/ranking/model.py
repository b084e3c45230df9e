"""The trained ranker: a LightGBM ``lambdarank`` model over :data:`FEATURE_NAMES`, with isotonic calibration.

The package ships the fitted model (``tools/data/ranker.txt``, LightGBM's text format) and its metadata
(``tools/data/ranker.json``: feature names, calibration curve, pool settings, what it was fitted on and its
validation numbers). Loading never needs the training data; ``python -m crs_agent.evals.fit_ranker`` refits
both. The calibrated score of an item is the share of validation candidates scoring like it that were the
human recommender's next suggestion: a probability in [0, 1] that does not depend on the other candidates.
"""

from __future__ import annotations

import functools
import json
from importlib import resources
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
from pydantic import BaseModel, Field

from crs_agent.tools.candidates import PoolConfig
from crs_agent.tools.ranking.features import FEATURE_NAMES

__all__ = ["Ranker", "RankerMeta", "shipped_dir"]


class RankerMeta(BaseModel):
    """Everything about a fitted ranker except its trees."""

    features: list[str] = Field(default_factory=lambda: list(FEATURE_NAMES))
    calibration_x: list[float] = Field(default_factory=list, description="Raw scores, increasing.")
    calibration_y: list[float] = Field(default_factory=list, description="P(target) at each raw score.")
    pool: PoolConfig = Field(default_factory=PoolConfig)
    fitted_on: str = "unfitted: the fused generator score"
    metrics: dict[str, Any] = Field(default_factory=dict)
    matrices: str = Field(
        "", description="sha256 of the training and validation matrices it was fitted on (training.fingerprint)."
    )


def shipped_dir() -> Path:
    return Path(str(resources.files("crs_agent.tools") / "data"))


@functools.cache
def _booster(path: str, stamp: float) -> lgb.Booster:
    return lgb.Booster(model_file=path)


class Ranker:
    """Scores feature rows: ``raw`` orders them, ``calibrate`` maps raw scores to [0, 1]."""

    def __init__(self, booster: lgb.Booster | None = None, meta: RankerMeta | None = None) -> None:
        self.booster = booster
        self.meta = meta or RankerMeta()
        self._columns = np.array([FEATURE_NAMES.index(f) if f in FEATURE_NAMES else -1 for f in self.meta.features])

    @classmethod
    def load(cls, directory: Path) -> Ranker:
        """The ranker saved in ``directory`` (``ranker.txt`` + ``ranker.json``); unfitted when absent."""
        meta_path, model_path = directory / "ranker.json", directory / "ranker.txt"
        if not meta_path.is_file() or not model_path.is_file():
            return cls()
        meta = RankerMeta.model_validate_json(meta_path.read_text(encoding="utf-8"))
        return cls(_booster(str(model_path), model_path.stat().st_mtime), meta)

    @classmethod
    def default(cls) -> Ranker:
        """The ranker shipped in the package."""
        return cls.load(shipped_dir())

    @property
    def fitted(self) -> bool:
        return self.booster is not None

    def raw(self, rows: np.ndarray) -> np.ndarray:
        """Raw scores of ``rows`` (columns in :data:`FEATURE_NAMES` order); the fused score when unfitted."""
        if rows.shape[0] == 0:
            return np.zeros(0, dtype=np.float64)
        if self.booster is None:
            return np.nan_to_num(rows[:, FEATURE_NAMES.index("fused")]).astype(np.float64)
        picked = np.full((rows.shape[0], len(self._columns)), np.nan, dtype=np.float32)
        known = self._columns >= 0
        picked[:, known] = rows[:, self._columns[known]]
        return np.asarray(self.booster.predict(picked, num_threads=1), dtype=np.float64)

    def calibrate(self, raw: np.ndarray) -> np.ndarray:
        """P(target) for each raw score (isotonic on validation); a logistic squash when uncalibrated."""
        if not self.meta.calibration_x:
            return 1.0 / (1.0 + np.exp(-np.asarray(raw, dtype=np.float64)))
        return np.interp(raw, self.meta.calibration_x, self.meta.calibration_y)

    def save(self, directory: Path) -> None:
        if self.booster is None:
            raise ValueError("an unfitted ranker has no model to save")
        directory.mkdir(parents=True, exist_ok=True)
        self.booster.save_model(str(directory / "ranker.txt"))
        text = json.dumps(self.meta.model_dump(mode="json"), indent=1) + "\n"
        (directory / "ranker.json").write_text(text, encoding="utf-8")
