"""The agent's tools (retrieval, KG lookup, expansion, ranking, explanation, memory) as langchain-core tools.

``make_tools(knowledge)`` returns them ready for an LLM; :class:`Toolkit` exposes the same operations
to Python callers (the agent's deterministic policy, the evaluations).
"""

from crs_agent.tools.explain import check_rephrasing, grounded_entities
from crs_agent.tools.models import Candidate, Explanation, Fact, KgResult, MemoryHit, Profile, Reason
from crs_agent.tools.ranking import Ranker, RecommenderCore
from crs_agent.tools.toolkit import Toolkit, make_tools

__all__ = [
    "Candidate",
    "Explanation",
    "Fact",
    "KgResult",
    "MemoryHit",
    "Profile",
    "Ranker",
    "Reason",
    "RecommenderCore",
    "Toolkit",
    "check_rephrasing",
    "grounded_entities",
    "make_tools",
]
