"""The agent's tools as langchain-core tools: typed arguments in, short text for the LLM plus typed artifacts out.

Mistakes in arguments (unknown id, empty query, out-of-range k) come back as a tool error message the
model can act on; they never raise out of the tool.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Annotated, Any, Literal, get_args

from langchain_core.tools import BaseTool, InjectedToolArg, StructuredTool, ToolException
from pydantic import BaseModel, Field, ValidationError

from crs_agent.knowledge import ItemFilter, Knowledge
from crs_agent.tools.explain import Explainer
from crs_agent.tools.kg import KgLookup
from crs_agent.tools.models import Candidate, Explanation, MemoryHit, Profile
from crs_agent.tools.ranking import Ranker, RecommenderCore
from crs_agent.tools.retrieval import Retriever

__all__ = ["Toolkit", "make_tools"]


class RetrieveArgs(BaseModel):
    query: str = Field(min_length=1, max_length=300, description="What the user wants, in their words, or a title.")
    filters: ItemFilter = Field(default_factory=ItemFilter, description="Hard constraints every result must meet.")
    k: int = Field(default=20, ge=1, le=50, description="How many candidates to return.")
    exclude_ids: list[str] = Field(default_factory=list, max_length=500, description="Ids never to return.")


class KgArgs(BaseModel):
    entity: str = Field(min_length=1, max_length=120, description="An item id, a title, a person or a genre.")
    relation: Literal["directed_by", "written_by", "stars", "has_genre", "released_in"] | None = Field(
        default=None, description="Find items sharing this relation with the entity (or linked to it)."
    )
    target: str | None = Field(default=None, max_length=120, description="Another item: return paths to it.")
    hops: int = Field(default=2, ge=1, le=3, description="Maximum path length when a target is given.")


class ExpandArgs(BaseModel):
    item_ids: list[str] = Field(min_length=1, max_length=20, description="Ids of items the user liked.")
    k: int = Field(default=20, ge=1, le=50)
    exclude_ids: list[str] = Field(default_factory=list, max_length=500)


GeneratorName = Literal[
    "collab",
    "ratings",
    "bm25",
    "context",
    "context_knn",
    "dense",
    "kg",
    "people",
    "popular",
    "popular_genre",
    "dialogue",
]
_GENERATOR_COUNT = len(get_args(GeneratorName))  # a request may name each generator once


class GenerateArgs(BaseModel):
    generators: list[GeneratorName] = Field(
        min_length=1,
        max_length=_GENERATOR_COUNT,
        description="Candidate generators to run (their best items are fused).",
    )
    profile: Profile = Field(default_factory=Profile, description="The conversation so far.")
    k: int = Field(default=20, ge=1, le=100, description="How many of the fused best to return.")


class RankArgs(BaseModel):
    candidate_ids: list[str] = Field(default_factory=list, max_length=1000, description="Ids to score.")
    profile: Profile = Field(default_factory=Profile, description="The user's preferences.")
    generators: list[GeneratorName] = Field(
        default_factory=list,
        max_length=_GENERATOR_COUNT,
        description="Also pool these generators' candidates, as the core does.",
    )
    k: int = Field(default=10, ge=1, le=200)


class ExplainArgs(BaseModel):
    item_id: str = Field(min_length=1, max_length=40)
    profile: Profile = Field(default_factory=Profile)


class RememberArgs(BaseModel):
    fact: str = Field(min_length=1, max_length=500, description="A durable fact about the user's taste.")
    kind: Literal["preference", "feedback", "session"] = "preference"
    user_id: Annotated[str, InjectedToolArg] = Field(description="Filled in by the agent, never by the model.")


class RecallArgs(BaseModel):
    query: str = Field(min_length=1, max_length=300)
    k: int = Field(default=5, ge=1, le=20)
    user_id: Annotated[str, InjectedToolArg] = Field(description="Filled in by the agent, never by the model.")


def _lines(candidates: list[Candidate], limit: int = 12) -> str:
    rows = [f"{c.item_id}: {c.title} ({c.score:.2f})" for c in candidates[:limit]]
    more = len(candidates) - limit
    return "\n".join(rows + ([f"... and {more} more"] if more > 0 else [])) or "no items"


class Toolkit:
    """The recommender operations over one :class:`Knowledge`; ``tools()`` wraps them for an LLM."""

    def __init__(self, knowledge: Knowledge, ranker: Ranker | None = None, skip: Collection[str] = ()) -> None:
        """``skip`` names candidate generators left out of the core (for ablations)."""
        self.k = knowledge
        self.core = RecommenderCore(knowledge, ranker, skip=skip)
        self.retriever = Retriever(knowledge, self.core)
        self.explainer = Explainer(knowledge)
        self.kg = KgLookup(knowledge)

    def _check_ids(self, ids: list[str]) -> None:
        unknown = [i for i in ids if i not in self.k.catalog]
        if unknown:
            raise ToolException(f"unknown item id(s): {', '.join(unknown[:5])}. Use ids returned by other tools.")

    def retrieve_candidates(
        self, query: str, filters: ItemFilter | None = None, k: int = 20, exclude_ids: list[str] | None = None
    ) -> tuple[str, list[Candidate]]:
        """Find items matching a description or title, under hard filters."""
        if not query.strip():
            raise ToolException("query is empty: describe what the user wants or give a title.")
        flt = (filters or ItemFilter()).model_copy(
            update={"exclude_ids": [*(filters or ItemFilter()).exclude_ids, *(exclude_ids or [])]}
        )
        try:
            found = self.retriever.retrieve(query, flt, k)
        except ValueError as err:  # e.g. a required genre the catalog does not have
            raise ToolException(str(err)) from err
        return _lines(found), found

    def kg_lookup(
        self, entity: str, relation: str | None = None, target: str | None = None, hops: int = 2
    ) -> tuple[str, Any]:
        """Look up facts, related items or typed paths in the knowledge graph."""
        result = self.kg.lookup(entity, relation, target, hops)
        return self.kg.render(result), result

    def expand_from_liked(
        self, item_ids: list[str], k: int = 20, exclude_ids: list[str] | None = None
    ) -> tuple[str, list[Candidate]]:
        """Find items similar to the liked ones through ratings, co-mentions and the knowledge graph."""
        self._check_ids(item_ids)
        flt = ItemFilter(exclude_ids=[*item_ids, *(exclude_ids or [])])
        found = self.retriever.expand(item_ids, flt, k)
        return _lines(found), found

    def generate_candidates(
        self, generators: list[str], profile: Profile | None = None, k: int = 20
    ) -> tuple[str, list[Candidate]]:
        """Find candidates for the conversation so far with some of the core's generators, under the hard filter."""
        profile = profile or Profile()
        found = self.core.pooled(profile, generators).candidates(k, "generate_candidates:" + "+".join(generators))
        return _lines(found), found

    def rank(
        self,
        candidate_ids: list[str] | None = None,
        profile: Profile | None = None,
        k: int = 10,
        generators: list[str] | None = None,
    ) -> tuple[str, list[Candidate]]:
        """Score candidates for the user's profile with the trained ranker; calibrated scores in [0, 1]."""
        profile = profile or Profile()
        ids = list(candidate_ids or [])
        self._check_ids(ids)
        if not ids and not generators:
            raise ToolException("nothing to rank: give candidate ids or the generators to pool.")
        if generators:
            ranked = self.core.pooled(profile, generators, ids).candidates(k, "rank")
        else:
            ranked = self.core.rank(ids, profile)[:k]
        if not ranked:
            raise ToolException("every candidate breaks the user's constraints or was already seen: retrieve more.")
        return _lines(ranked), ranked

    def recommend(self, profile: Profile, k: int = 50) -> list[Candidate]:
        """The whole pipeline without a planner: every candidate generator under the hard filter, pooled, then
        the trained ranker; best first, at most ``k`` (what the ``tools`` evaluation system and the agent share)."""
        return self.core.recommend(profile, k)

    def explain(self, item_id: str, profile: Profile | None = None) -> tuple[str, Explanation]:
        """Give grounded reasons why an item fits the user (KG paths, item facts and text)."""
        self._check_ids([item_id])
        explanation = self.explainer.explain(item_id, profile or Profile())
        return f"{explanation.title}: " + "; ".join(r.text for r in explanation.reasons), explanation

    def remember(self, fact: str, user_id: str, kind: str = "preference") -> tuple[str, str]:
        """Store a durable fact about this user's taste."""
        if not fact.strip():
            raise ToolException("fact is empty.")
        record = self.k.memory.remember(user_id, fact, kind=kind)
        return f"remembered: {fact.strip()[:80]}", record

    def recall(self, query: str, user_id: str, k: int = 5) -> tuple[str, list[MemoryHit]]:
        """Recall what this user said before that is relevant to the query."""
        hits = [
            MemoryHit(text=r.text, kind=r.kind, score=round(r.score, 3))
            for r in self.k.memory.recall(user_id, query, k)
        ]
        return "\n".join(f"- {h.text}" for h in hits) or "nothing remembered yet", hits

    def tools(self) -> list[BaseTool]:
        specs: list[tuple[Callable[..., Any], type[BaseModel]]] = [
            (self.retrieve_candidates, RetrieveArgs),
            (self.kg_lookup, KgArgs),
            (self.expand_from_liked, ExpandArgs),
            (self.generate_candidates, GenerateArgs),
            (self.rank, RankArgs),
            (self.explain, ExplainArgs),
            (self.remember, RememberArgs),
            (self.recall, RecallArgs),
        ]
        return [
            StructuredTool.from_function(
                func=func,
                name=func.__name__,
                description=(func.__doc__ or "").strip().splitlines()[0],
                args_schema=schema,
                response_format="content_and_artifact",
                handle_tool_error=True,
                handle_validation_error=_validation_message,
            )
            for func, schema in specs
        ]


def _validation_message(err: ValidationError) -> str:
    problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'arguments'}: {e['msg']}" for e in err.errors()[:3])
    return f"Invalid arguments ({problems}). Fix them and call the tool again."


def make_tools(knowledge: Knowledge, ranker: Ranker | None = None) -> list[BaseTool]:
    """The seven tools over ``knowledge``: retrieve_candidates, kg_lookup, expand_from_liked, rank, explain,
    remember, recall."""
    return Toolkit(knowledge, ranker).tools()
