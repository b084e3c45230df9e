"""respond: the top items with one grounded reason each, or one clarifying question; tokens stream.

The reply is composed from templates and the explainer's grounded reasons; an LLM (when configured)
writes only a one-line opener, which is dropped if it names a title or person outside the grounded
set. Text streams as custom events (``{"token": ...}``) so every backend streams the same way.
"""

from __future__ import annotations

from typing import Any

from langchain_core.messages import AIMessage, HumanMessage, SystemMessage
from langgraph.config import get_stream_writer
from langgraph.runtime import Runtime
from pydantic import BaseModel, Field

from crs_agent.agent.state import Deps, State, deps_of
from crs_agent.tools import Profile

__all__ = ["ReplyItem", "clarifying_question", "respond"]


class ReplyItem(BaseModel):
    id: str
    title: str
    year: int | None
    genres: list[str]
    people: dict[str, list[str]]
    score: float = Field(ge=0.0, le=1.0)
    reason: str
    reasons: list[str]
    entities: list[str]


def clarifying_question(profile: Profile, deps: Deps) -> str:
    """The most useful single question for what the profile is missing."""
    if not (profile.liked_ids or profile.genres or profile.wishes):
        return "What's a movie you loved recently, or what are you in the mood for (a genre, a feeling, an actor)?"
    if not profile.liked_ids:
        return "Is there a movie you liked that is close to what you want? I can find more like it."
    if not profile.genres:
        return "Any genre you're in the mood for, or one you'd rather avoid?"
    return "Anything to avoid, or a period you prefer (say, 90s or recent)?"


def _items(state: State, deps: Deps, profile: Profile) -> list[ReplyItem]:
    catalog, bus = deps.toolkit.k.catalog, state.get("bus", {})
    items = []
    for item_id in state.get("ranked", [])[: deps.top_k]:
        item = catalog[item_id]
        explanation = deps.toolkit.explainer.explain(item_id, profile)
        items.append(
            ReplyItem(
                id=item.id,
                title=item.title,
                year=item.year,
                genres=item.genres,
                people={role: names[:3] for role, names in item.people.items()},
                score=min(1.0, max(0.0, float(bus.get(item_id, {}).get("score", 0.0)))),
                reason=explanation.best,
                reasons=[r.text for r in explanation.reasons],
                entities=sorted({e for r in explanation.reasons for e in r.entities}),
            )
        )
    return items


def _opener(deps: Deps, state: State, items: list[ReplyItem]) -> str:
    default = "Here are my picks for you:" if items else ""
    if deps.llm is None or not items:
        return default
    said = state["messages"][-1].content if state.get("messages") else ""
    prompt = [
        SystemMessage(
            "You are a friendly movie recommender. Write one short sentence introducing the picks. No titles."
        ),
        HumanMessage(f"The user said: {str(said)[:300]}"),
    ]
    try:
        lines = str(deps.llm.invoke(prompt).content).strip().splitlines()
        text = lines[0][:200] if lines else ""
    except (ValueError, RuntimeError, OSError) as err:
        deps.notices.append(f"The language model failed ({type(err).__name__}); answered without it.")
        return default
    named = deps.linker.link(text)
    allowed = {i.id for i in items}
    if set(named.mentioned_ids) - allowed or named.people:
        return default  # the opener named something that is not grounded: drop it
    return text or default


def _render(opener: str, items: list[ReplyItem], notices: list[str]) -> str:
    lines = [*notices, opener] if opener else list(notices)
    for n, item in enumerate(items, start=1):
        year = f" ({item.year})" if item.year else ""
        lines.append(f"{n}. {item.title}{year} — {item.reason}.")
    return "\n".join(line for line in lines if line)


def respond(state: State, runtime: Runtime[Deps]) -> dict[str, Any]:
    deps = deps_of(runtime)
    profile = Profile.model_validate(state.get("profile", {}))
    decision = state.get("decision", {})
    notices = [*state.get("notices", []), *deps.notices]
    ask = decision.get("action") == "ask" or not state.get("ranked")
    items = [] if ask else _items(state, deps, profile)
    text = _render("" if ask else _opener(deps, state, items), items, notices)
    if ask:
        text = "\n".join([*notices, clarifying_question(profile, deps)])
    writer = get_stream_writer()
    for start in range(0, len(text), 24):
        writer({"token": text[start : start + 24]})
    reply = {
        "text": text,
        "question": ask,
        "items": [i.model_dump() for i in items],
        "item_ids": [i.id for i in items],
        "notices": notices,
    }
    return {"messages": [AIMessage(content=text)], "reply": reply}
