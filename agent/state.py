"""The graph's typed state, its narrow input schema, and the injected dependencies.

State values are plain JSON-able data (dicts and lists), so every checkpointer can store them; the
typed views (``Profile``, ``Candidate``) are rebuilt where they are used.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AnyMessage
from langgraph.graph.message import add_messages
from langgraph.runtime import Runtime
from pydantic import BaseModel, Field
from typing_extensions import TypedDict

from crs_agent.agent.questions import QuestionPolicy
from crs_agent.knowledge import Settings
from crs_agent.tools import Toolkit
from crs_agent.tools.linker import Linker

__all__ = ["Deps", "InputState", "Path", "PathStep", "State", "Verdict", "deps_of", "merge_bus", "set_default_deps"]

Strategy = Literal["describe", "expand", "people", "revisit", "popular", "rank"]


class PathStep(BaseModel):
    tool: str
    args: str = Field(description="Short rendering of the arguments.")
    observation: str = Field(description="Short summary of what came back.")
    found: int = 0


class Path(BaseModel):
    """One line of exploration (RecMind's self-inspiring planning keeps them all, abandoned ones too)."""

    id: int
    strategy: str
    rationale: str
    steps: list[PathStep] = Field(default_factory=list)
    status: Literal["active", "done", "abandoned"] = "active"

    def summary(self) -> str:
        last = self.steps[-1] if self.steps else None
        seen = f"{last.tool} found {last.found}" if last else "not run yet"
        return f"#{self.id} {self.strategy} [{self.status}]: {seen}"


class Verdict(BaseModel):
    passed: bool
    reasons: list[str] = Field(default_factory=list)
    source: Literal["rules", "llm", "disabled"] = "rules"
    retry: bool = Field(
        default=False, description="Go back to plan: failed, and the planner has something left to try."
    )


def merge_bus(
    left: dict[str, dict[str, Any]] | None, right: dict[str, dict[str, Any]] | None
) -> dict[str, dict[str, Any]]:
    """Candidates from every path land on one bus: sources accumulate, components merge, scores keep the max.

    An update of ``{"__reset__": {}}`` clears the bus (a new turn starts).
    """
    if right and "__reset__" in right:
        return {k: v for k, v in right.items() if k != "__reset__"}
    out = dict(left or {})
    for item_id, cand in (right or {}).items():
        if item_id in out:
            old = out[item_id]
            cand = {
                **old,
                **cand,
                "sources": list(dict.fromkeys([*old.get("sources", []), *cand.get("sources", [])])),
                "components": {**old.get("components", {}), **cand.get("components", {})},
                "score": cand.get("score", 0.0)
                if "rank" in cand.get("sources", [])
                else max(old["score"], cand["score"]),
            }
        out[item_id] = cand
    return out


class InputState(TypedDict):
    message: str


class State(TypedDict, total=False):
    message: str
    messages: Annotated[list[AnyMessage], add_messages]
    profile: dict[str, Any]
    intent: str
    paths: list[dict[str, Any]]
    bus: Annotated[dict[str, dict[str, Any]], merge_bus]
    ranked: list[str]
    steps: int
    decision: dict[str, Any]
    verdicts: list[dict[str, Any]]
    reply: dict[str, Any]
    notices: list[str]
    last: dict[str, Any]  # the recommender turn this message answers (LastReply)
    refined: bool  # the message turned down the agent's own list and said what to change


@dataclass
class Deps:
    """What the nodes need, injected per run (LangGraph ``context``): never built from strings in a node."""

    toolkit: Toolkit
    linker: Linker
    user_id: str
    llm: BaseChatModel | None = None
    top_k: int = 3
    step_budget: int = 8  # five search paths and a ranking, with room for one more after a failed check
    use_kg: bool = True
    use_reflection: bool = True
    multi_path: bool = True
    use_memory: bool = True
    llm_critique: bool = False
    llm_reads_every_message: bool = False  # else the LLM reads only what the linker could not (a strong model: True)
    llm_reads_gaps: bool = True  # the LLM reads what the linker and the learned reading left open
    questions: QuestionPolicy = field(default_factory=QuestionPolicy)
    notices: list[str] = field(default_factory=list)
    plan_llm_calls: int = 0  # LLM planning calls made in this run (capped by the planner)

    @staticmethod
    def configured(settings: Settings, llm: BaseChatModel | None = None) -> dict[str, Any]:
        """The options that come from the settings (how eager to ask; what the LLM reads)."""
        gaps = settings.llm_reads_gaps
        if gaps is None:  # measured (evals/bench_llm.py): the packaged small models' reading lowers its F1
            from crs_agent.agent.llm_llamacpp import is_packaged_model

            gaps = not is_packaged_model(llm)
        return {
            "questions": QuestionPolicy(min_gain=settings.ask_min_gain),
            "llm_reads_every_message": settings.llm_reads_every_message,
            "llm_reads_gaps": gaps,
        }


# Builds Deps from a JSON context ({"user_id": ..., "top_k": ...}) when the graph is served by LangGraph's
# server, which can only pass JSON; set by :func:`crs_agent.agent.server.make_graph`.
_default_deps: Callable[[dict[str, Any]], Deps] | None = None


def set_default_deps(factory: Callable[[dict[str, Any]], Deps] | None) -> None:
    global _default_deps
    _default_deps = factory


def deps_of(runtime: Runtime[Any]) -> Deps:
    """The run's :class:`Deps`: given by ``Recommender``, or built from a JSON context by the served graph."""
    context = runtime.context
    if isinstance(context, Deps):
        return context
    if _default_deps is None:
        raise TypeError(
            "The graph needs Deps as its run context: use crs_agent.agent.Recommender, or the graph from "
            "crs_agent.agent.server.make_graph() (what langgraph.json serves)."
        )
    return _default_deps(dict(context or {}))
