"""reflect: a critic checks the ranked candidates against what the user said before anything is answered.

Rule checks always run (excluded attributes, seen or rejected items, hard constraints, too few or too
similar candidates); an LLM critique runs on top when the backend is strong enough. A failure goes back
to plan with its reason; the planner then opens another path or ranks again.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from langchain_core.messages import HumanMessage, SystemMessage
from langgraph.runtime import Runtime
from pydantic import BaseModel, Field

from crs_agent.agent.llm import structured
from crs_agent.agent.planner import available_strategies
from crs_agent.agent.state import Deps, Path, State, Verdict, deps_of
from crs_agent.tools import Profile

__all__ = ["Critique", "critique_rules", "reflect"]

MAX_SIMILARITY = 0.92  # mean pairwise cosine of the top items above this reads as "more of the same"


class Critique(BaseModel):
    verdict: Literal["pass", "fail"]
    reason: str = Field(default="", max_length=80)


def critique_rules(state: State, deps: Deps) -> Verdict:
    profile = Profile.model_validate(state.get("profile", {}))
    ranked = state.get("ranked", [])
    top = ranked[: deps.top_k]
    catalog = deps.toolkit.k.catalog
    reasons = []
    if not state.get("bus"):
        reasons.append("no candidates found yet")
    elif not ranked:
        reasons.append("candidates are not ranked yet")
    flt = profile.hard_filter()
    broken = [catalog[i].label for i in top if not flt.accepts(catalog[i])]
    if broken:
        reasons.append(f"breaks the user's constraints or was seen: {', '.join(broken)}")
    if ranked and len(ranked) < deps.top_k:
        reasons.append(f"only {len(ranked)} candidates for {deps.top_k} slots")
    if len(top) >= 3:
        vectors = deps.toolkit.k.vectors[[deps.toolkit.k.row[i] for i in top]]
        sims = vectors @ vectors.T
        mean = float((sims.sum() - np.trace(sims)) / (len(top) * (len(top) - 1)))
        if mean > MAX_SIMILARITY:
            reasons.append(f"top items are too similar (cosine {mean:.2f})")
    return Verdict(passed=not reasons, reasons=reasons)


def critique_llm(state: State, deps: Deps) -> Verdict | None:
    if deps.llm is None or not deps.llm_critique:
        return None
    catalog = deps.toolkit.k.catalog
    top = [catalog[i].label for i in state.get("ranked", [])[: deps.top_k]]
    said = state["messages"][-1].content if state.get("messages") else ""
    prompt = [
        SystemMessage("Do these recommendations fit what the user asked for? Reply in JSON."),
        HumanMessage(f"User: {str(said)[:400]}\nRecommendations: {'; '.join(top)}"),
    ]
    critique = structured(deps.llm, Critique, prompt)
    if not isinstance(critique, Critique):
        return None
    return Verdict(passed=critique.verdict == "pass", reasons=[critique.reason or "the critic objected"], source="llm")


MAX_RETRIES = 2


def reflect(state: State, runtime: Runtime[Deps]) -> dict[str, Any]:
    deps = deps_of(runtime)
    verdicts = state.get("verdicts", [])
    if not deps.use_reflection:
        verdict = Verdict(passed=True, reasons=["reflection disabled"], source="disabled")
    else:
        verdict = critique_rules(state, deps)
        if verdict.passed:
            verdict = critique_llm(state, deps) or verdict
    if not verdict.passed:
        profile = Profile.model_validate(state.get("profile", {}))
        paths = [Path.model_validate(p) for p in state.get("paths", [])]
        can_try = bool(available_strategies(profile, paths, deps)) or (state.get("bus") and not state.get("ranked"))
        verdict.retry = bool(can_try) and state.get("steps", 0) < deps.step_budget and len(verdicts) < MAX_RETRIES
    return {"verdicts": [*verdicts, verdict.model_dump()]}
