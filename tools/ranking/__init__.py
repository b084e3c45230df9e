"""Ranking: the features of pooled candidates, the trained LightGBM ranker with calibration, and the core
pipeline that joins generators and ranker (:class:`RecommenderCore`)."""

from crs_agent.tools.ranking.core import RecommenderCore, Scored
from crs_agent.tools.ranking.features import FEATURE_GROUPS, FEATURE_NAMES, features
from crs_agent.tools.ranking.model import Ranker, RankerMeta, shipped_dir

__all__ = [
    "FEATURE_GROUPS",
    "FEATURE_NAMES",
    "Ranker",
    "RankerMeta",
    "RecommenderCore",
    "Scored",
    "features",
    "shipped_dir",
]
