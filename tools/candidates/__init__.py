"""Candidate generators: each scores the catalog for one turn and returns its best items under the hard filter.

``make_generators(resources)`` gives every generator the index supports; :func:`pool` merges their best.
"""

from crs_agent.tools.candidates.arrays import CatalogArrays
from crs_agent.tools.candidates.base import Generator, GeneratorConfig, MessageVectors, Resources, Turn, top_n
from crs_agent.tools.candidates.collab import DialogueCollab, RatingNeighbours
from crs_agent.tools.candidates.dialogue import EarlierNamed
from crs_agent.tools.candidates.graph import KgNeighbours, PeopleNamed
from crs_agent.tools.candidates.pool import Pool, PoolConfig, pool
from crs_agent.tools.candidates.popular import PopularInScope, PopularSuggested
from crs_agent.tools.candidates.text import Bm25Text, ContextKnn, ContextText, DenseText

__all__ = [
    "GENERATORS",
    "Bm25Text",
    "CatalogArrays",
    "ContextKnn",
    "ContextText",
    "DenseText",
    "DialogueCollab",
    "EarlierNamed",
    "Generator",
    "GeneratorConfig",
    "KgNeighbours",
    "MessageVectors",
    "PeopleNamed",
    "Pool",
    "PoolConfig",
    "PopularInScope",
    "PopularSuggested",
    "RatingNeighbours",
    "Resources",
    "Turn",
    "make_generators",
    "pool",
    "top_n",
]

GENERATORS: tuple[type[Generator], ...] = (
    DialogueCollab,
    RatingNeighbours,
    Bm25Text,
    ContextText,
    ContextKnn,
    DenseText,
    KgNeighbours,
    PeopleNamed,
    PopularSuggested,
    PopularInScope,
    EarlierNamed,
)


def make_generators(
    resources: Resources, configs: dict[str, GeneratorConfig] | None = None, skip: frozenset[str] = frozenset()
) -> list[Generator]:
    """Every generator whose signal the index holds (a catalog without dialogues gets no dialogue generator)."""
    configs = configs or {}
    made = [cls(resources, configs.get(cls.name)) for cls in GENERATORS if cls.name not in skip]
    return [gen for gen in made if gen.available()]
