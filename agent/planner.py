"""plan: RecMind-style self-inspiring planning over explored paths, with a deterministic policy beneath.

Every path the planner opened this turn stays in the state (done or abandoned) and is shown to it as a
one-line summary. At each step it extends the current path, opens an alternative, asks, or answers.
The LLM only chooses among the options that are valid now; the tool arguments are always built from
the profile in the state, so neither a weak model nor text in the conversation can steer them (the
user id, the hard filters, the excluded items).
"""

from __future__ import annotations

import functools
import uuid
from typing import Any, Literal

from langchain_core.messages import AIMessage, AnyMessage, HumanMessage, RemoveMessage, SystemMessage, ToolMessage
from langgraph.runtime import Runtime
from pydantic import BaseModel, create_model

from crs_agent.agent.llm import structured
from crs_agent.agent.state import Deps, Path, PathStep, State, deps_of
from crs_agent.tools import Candidate, Explanation, KgResult, Profile
from crs_agent.tools.context import LastReply

__all__ = ["Decision", "PlanChoice", "available_strategies", "observe", "plan", "policy", "tool_call_for"]

# Each search path runs some of the recommender core's candidate generators (tools/candidates): the same
# generators the ``tools`` system pools, so a turn that opens every path ranks what the core ranks.
GENERATORS: dict[str, tuple[str, ...]] = {
    # the whole conversation's words, and what preceded human recommenders' suggestions
    "describe": ("bm25", "context", "context_knn", "dense"),
    "expand": ("collab", "ratings", "kg"),  # from the movies named: dialogue co-mentions, ratings, the KG
    "people": ("people",),  # the people the user named
    "revisit": ("dialogue",),  # movies named earlier that may still be recommended
    "popular": ("popular", "popular_genre"),  # popular among suggestions, within the wanted genres
}
SEARCH_STRATEGIES = tuple(GENERATORS)
_KG_GENERATORS = frozenset({"kg", "people"})
PATH_SHOWN = 20  # candidates a path puts on the bus (what the trace shows of it)
RANK_DEPTH = 100  # the ranking a turn returns (Reply.trace.ranked; lists of 50 are judged on it)
PENDING = "(pending)"


# LLM planning calls per turn: each costs about a second on the embedded model; the rest is the policy.
MAX_LLM_PLAN_CALLS = 1


class PlanChoice(BaseModel):
    """What the LLM may choose: one of the moves valid now (:func:`choice_schema` narrows ``next`` to them,
    so the grammar admits nothing else). A single short field: every generated token costs time."""

    next: str


@functools.cache
def choice_schema(options: tuple[str, ...]) -> type[PlanChoice]:
    """``PlanChoice`` with ``next`` restricted to ``options`` (a JSON-schema enum, hence a grammar)."""
    return create_model("PlanChoice", __base__=PlanChoice, next=(Literal[options], ...))


class Decision(BaseModel):
    action: Literal["open", "rank", "ask", "answer"]
    strategy: str = ""
    rationale: str = ""
    source: Literal["policy", "llm"] = "policy"


def available_strategies(profile: Profile, paths: list[Path], deps: Deps) -> list[str]:
    """The search paths not opened yet this turn whose generators have something to go on."""
    tried = {p.strategy for p in paths}
    if not deps.multi_path and any(p.strategy in SEARCH_STRATEGIES for p in paths):
        return []
    named = bool(profile.mentioned_ids or profile.suggested_ids or profile.liked_ids)
    usable = {
        "describe": bool(profile.said or profile.wish_text()),
        "expand": named,
        "people": bool(profile.people) and deps.use_kg,
        "revisit": bool(profile.mentioned_ids or profile.suggested_ids),
        "popular": True,
    }
    return [s for s in ("people", "describe", "expand", "revisit", "popular") if usable[s] and s not in tried]


def generators_of(strategies: list[str], deps: Deps) -> list[str]:
    """The generators behind the given paths (without the KG's when the KG is switched off)."""
    names = [g for s in strategies for g in GENERATORS.get(s, ())]
    return [g for g in dict.fromkeys(names) if deps.use_kg or g not in _KG_GENERATORS]


def _thin(profile: Profile) -> bool:
    return not (profile.liked_ids or profile.genres or profile.people or profile.wishes or profile.exclude_genres)


def policy(state: State, deps: Deps, paths: list[Path]) -> Decision:
    profile = Profile.model_validate(state.get("profile", {}))
    bus = state.get("bus", {})
    options = available_strategies(profile, paths, deps)
    verdicts = state.get("verdicts", [])
    if state.get("steps", 0) >= deps.step_budget:
        return Decision(action="answer", rationale="step budget reached")
    if options:
        return Decision(action="open", strategy=options[0], rationale=_why(options[0], verdicts))
    if bus and (not state.get("ranked") or _new_since_rank(paths)):
        return Decision(action="rank", strategy="rank", rationale="score every candidate on the bus for this user")
    if _thin(profile) or (state.get("intent") == "chit-chat" and not profile.wishes):  # ranked all the same
        # (a replayed turn is scored on its ranking), then one open question
        return Decision(action="ask", strategy="liked", rationale="too little to go on: ask what they loved")
    question = _question(state, profile, deps)
    if question is not None:
        kind, gain = question
        why = f"asking about {kind} is worth {gain:.2f} more chance that the list holds what they want"
        return Decision(action="ask", strategy=kind, rationale=why)
    return Decision(action="answer", rationale="ranked candidates are ready")


def _question(state: State, profile: Profile, deps: Deps) -> tuple[str, float] | None:
    """The question worth more than the list (see :mod:`crs_agent.agent.questions`), or None."""
    bus, k = state.get("bus", {}), deps.toolkit.k
    scored = [(i, float(bus[i]["score"])) for i in state.get("ranked", []) if i in bus]
    last = LastReply.model_validate(state["last"]) if state.get("last") else None
    return deps.questions.choose(profile, scored, k.catalog, k.kg, deps.top_k, last, bool(state.get("refined")))


_MOVES = {  # what each move does: the rationale recorded on a path, and the LLM's menu of moves
    "describe": "search by what the user said in the whole conversation",
    "expand": "expand from the movies named: co-mentions, ratings and the KG",
    "people": "follow the people the user asked for in the KG",
    "revisit": "look again at movies named earlier that may still fit",
    "popular": "add popular titles that meet the constraints",
    "rank": "score the candidates found so far",
}


def _why(strategy: str, verdicts: list[dict[str, Any]]) -> str:
    """The rationale for opening ``strategy``, naming the reflection that failed the last attempt, if any."""
    if _last_failed(verdicts) and verdicts[-1]["reasons"]:
        return f"{_MOVES[strategy]} (after: {verdicts[-1]['reasons'][0]})"
    return _MOVES[strategy]


def _last_failed(verdicts: list[dict[str, Any]]) -> bool:
    return bool(verdicts) and not verdicts[-1]["passed"]


def _new_since_rank(paths: list[Path]) -> bool:
    rank_at = max((p.id for p in paths if p.strategy == "rank"), default=-1)
    return any(p.id > rank_at and p.strategy in SEARCH_STRATEGIES for p in paths)


def llm_choice(state: State, deps: Deps, paths: list[Path], fallback: Decision) -> Decision:
    """Ask the LLM which path to open next (or to rank what was found) when there is a real choice; the
    grammar admits only the valid moves, and anything else falls back to the policy."""
    if deps.llm is None or fallback.action != "open" or deps.plan_llm_calls >= MAX_LLM_PLAN_CALLS:
        return fallback  # ranking and answering follow from the state: only which path to open is a choice
    profile = Profile.model_validate(state.get("profile", {}))
    options = available_strategies(profile, paths, deps)
    if len(options) < 2:
        return fallback
    deps.plan_llm_calls += 1
    moves = (*options, "rank") if state.get("bus") else tuple(options)
    summary = "\n".join(p.summary() for p in paths) or "none yet"
    prompt = [
        SystemMessage("You choose a movie recommender's next search step. Reply in JSON."),
        HumanMessage(
            f"Paths so far:\n{summary}\nCandidates found: {len(state.get('bus', {}))}.\nMoves: "
            + "; ".join(f"{m}: {_MOVES[m]}" for m in moves)
            + f".\nSuggested: {fallback.strategy}."
        ),
    ]
    choice = structured(deps.llm, choice_schema(moves), prompt)
    if choice is None or choice.next not in moves:
        return fallback
    if choice.next == "rank":
        return Decision(action="rank", strategy="rank", rationale=_MOVES["rank"], source="llm")
    rationale = _why(choice.next, state.get("verdicts", []))
    return Decision(action="open", strategy=choice.next, rationale=rationale, source="llm")


def tool_call_for(decision: Decision, profile: Profile, bus: dict[str, Any], deps: Deps) -> dict[str, Any] | None:
    """The tool call for a decision, with arguments built from the profile (never from the LLM)."""
    if decision.strategy in GENERATORS:
        generators = generators_of([decision.strategy], deps)
        if not generators:
            return None
        name, args = "generate_candidates", {"generators": generators, "profile": profile.model_dump(), "k": PATH_SHOWN}
    elif decision.strategy == "rank":
        generators = generators_of(list(GENERATORS), deps)
        others = [i for i, c in bus.items() if not any(s.startswith("generate_candidates") for s in c["sources"])]
        args = {"candidate_ids": others[:300], "generators": generators, "profile": profile.model_dump()}
        name, args = "rank", {**args, "k": max(RANK_DEPTH, deps.top_k)}
    else:
        return None
    return {"name": name, "args": args, "id": f"call_{uuid.uuid4().hex[:12]}", "type": "tool_call"}


def _tool_exchange(state: State) -> tuple[list[ToolMessage], list[AnyMessage]]:
    """The trailing tool results and every message of the exchange (the AI tool call included)."""
    results: list[ToolMessage] = []
    exchange: list[AnyMessage] = []
    for message in reversed(state.get("messages", [])):
        if isinstance(message, ToolMessage):
            results.append(message)
        elif isinstance(message, AIMessage) and message.tool_calls:
            exchange.append(message)
            break
        else:
            break
    return results, [*results, *exchange]


def observe(state: State) -> tuple[list[Path], dict[str, dict[str, Any]], list[str] | None]:
    """Fold the latest tool results into the current path and the candidate bus."""
    paths = [Path.model_validate(p) for p in state.get("paths", [])]
    results, _ = _tool_exchange(state)
    bus: dict[str, dict[str, Any]] = {}
    ranked: list[str] | None = None
    for message in reversed(results):
        found = _candidates(message.artifact)
        for cand in found:
            bus[cand.item_id] = cand.model_dump()
        if message.name == "rank" and message.status != "error":
            ranked = [c.item_id for c in found]
        if paths and paths[-1].steps and paths[-1].steps[-1].observation == PENDING:
            step = paths[-1].steps[-1]
            step.observation, step.found = str(message.content)[:160], len(found)
            paths[-1].status = "done" if found else "abandoned"
    return paths, bus, ranked


def _candidates(artifact: Any) -> list[Candidate]:
    if isinstance(artifact, list):
        return [a for a in artifact if isinstance(a, Candidate)]
    if isinstance(artifact, KgResult):
        return artifact.related
    if isinstance(artifact, Explanation):
        return []
    return []


def plan(state: State, runtime: Runtime[Deps]) -> dict[str, Any]:
    deps = deps_of(runtime)
    paths, new_bus, ranked = observe(state)
    merged_bus = {**state.get("bus", {}), **new_bus}
    view: State = {**state, "bus": merged_bus, "ranked": ranked if ranked is not None else state.get("ranked", [])}
    decision = llm_choice(view, deps, paths, policy(view, deps, paths))
    # the exchange now lives in the paths; keep only the conversation itself in the persisted messages
    update: dict[str, Any] = {"bus": new_bus, "messages": [RemoveMessage(id=m.id) for m in _tool_exchange(state)[1]]}
    if ranked is not None:
        update["ranked"] = ranked
    profile = Profile.model_validate(state.get("profile", {}))
    call = tool_call_for(decision, profile, merged_bus, deps) if decision.action in ("open", "rank") else None
    if call is not None:
        paths.append(
            Path(id=len(paths), strategy=decision.strategy, rationale=f"[{decision.source}] {decision.rationale}")
        )
        paths[-1].steps.append(PathStep(tool=call["name"], args=_short_args(call["args"]), observation=PENDING))
        update["messages"] = [*update["messages"], AIMessage(content="", tool_calls=[call])]
        update["steps"] = state.get("steps", 0) + 1
    update["paths"] = [p.model_dump() for p in paths]
    update["decision"] = decision.model_dump()
    return update


def _short_args(args: dict[str, Any]) -> str:
    return ", ".join(f"{k}={str(v)[:40]}" for k, v in args.items() if k != "profile")
