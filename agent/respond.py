"""respond: the top items with one grounded reason each, or one clarifying question; tokens stream.

The reply is composed from templates and the explainer's grounded reasons; an LLM (when configured)
writes only a one-line opener, which is dropped if it names a title or person outside the grounded
set. Text streams as custom events (``{"token": ...}``) so every backend streams the same way.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from langchain_core.messages import AIMessage, HumanMessage, SystemMessage
from langgraph.config import get_stream_writer
from langgraph.runtime import Runtime
from pydantic import BaseModel, Field

from crs_agent.agent.llm import model_failures
from crs_agent.agent.questions import QUESTIONS, named_for, question_text
from crs_agent.agent.state import Deps, State, deps_of
from crs_agent.knowledge import KnowledgeGraph
from crs_agent.tools import Profile
from crs_agent.tools.context import fold_shown

__all__ = ["Asked", "ReplyItem", "question", "respond"]


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


Asked = Literal["genre", "star", "director", "decade", "liked", "avoid"]
_OPEN_QUESTIONS: dict[str, str] = {
    "liked": "What's a movie you loved recently, or what are you in the mood for (a genre, a feeling, an actor)?",
    "avoid": "Anything to avoid, or a period you prefer (say, 90s or recent)?",
}


def question(decision: dict[str, Any], profile: Profile, kg: KnowledgeGraph) -> tuple[Asked, str]:
    """The question the planner chose (an attribute worth asking), else what the profile misses most."""
    kind = decision.get("strategy", "")
    if kind in QUESTIONS:
        return kind, question_text(kind, named_for(profile, kind, kg))  # type: ignore[return-value]
    if not (profile.liked_ids or profile.genres or profile.wishes):
        return "liked", _OPEN_QUESTIONS["liked"]
    if not profile.liked_ids:
        return "liked", "Is there a movie you liked that is close to what you want? I can find more like it."
    return "avoid", _OPEN_QUESTIONS["avoid"]


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


# What a weak model writes instead of an opener: markup, JSON, apologies and talk about "the user"; and
# scores or ratings (only the ranker's calibrated scores are shown, and only on the items).
_NOT_AN_OPENER = re.compile(
    r"[{}\[\]<>#*%]|\d[.,/]\d|\b(sorry|user|users|assist|assistant|AI|language model|as an|I am|I'm|help you)\b"
    r"|\b(score|scores|scored|scoring|rated|rating|ratings|percent)\b",
    re.IGNORECASE,
)


_SENTENCE_END = [".", "!", "?", "\n"]


def _first_sentence(text: str) -> str:
    match = re.match(r"\s*(.+?[.!?])(\s|$)", text.replace("\n", " "))
    return match.group(1).strip() if match else ""


def _opener(deps: Deps, state: State, items: list[ReplyItem]) -> str:
    default = "Here are my picks for you:" if items else ""
    if deps.llm is None or not items:
        return default
    said = state["messages"][-1].content if state.get("messages") else ""
    prompt = [
        SystemMessage(
            "You introduce movie picks in one short, warm sentence that echoes what the user asked for. "
            "Never name a movie or a person."
        ),
        HumanMessage("I want something funny for tonight"),
        AIMessage("Here are a few light, funny picks for a relaxed evening."),
        HumanMessage(str(said)[:300]),
    ]
    try:
        # one sentence is all we keep: stop generating at its end (a tiny model would write on to max_tokens)
        raw = str(deps.llm.invoke(prompt, max_tokens=40, stop=_SENTENCE_END).content).strip()
        raw = raw if raw[-1:] in ".!?" else f"{raw}."
    except (*model_failures(), OSError, TypeError) as err:
        deps.notices.append(f"The language model failed ({type(err).__name__}); answered without it.")
        return default
    text = _first_sentence(raw)
    if not text or _NOT_AN_OPENER.search(text) or not 4 <= len(text.split()) <= 25:
        return default  # not a sentence introducing picks (JSON, markup, meta talk): a small model drifts
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
    ask = decision.get("action") == "ask" or not state.get("ranked")
    items = [] if ask else _items(state, deps, profile)
    opener = "" if ask else _opener(deps, state, items)  # may add a notice: read the notices after it
    notices = [*state.get("notices", []), *deps.notices]
    text = _render(opener, items, notices)
    asked = None
    if ask:
        asked, asking = question(decision, profile, deps.toolkit.k.kg)
        text = "\n".join([*notices, asking])
    writer = get_stream_writer()
    for start in range(0, len(text), 24):
        writer({"token": text[start : start + 24]})
    reply = {
        "text": text,
        "question": ask,
        "items": [i.model_dump() for i in items],
        "item_ids": [i.id for i in items],
        "notices": notices,
        "asked": asked,
    }
    profile = fold_shown(profile, reply["item_ids"], asked)
    return {"messages": [AIMessage(content=text)], "reply": reply, "profile": profile.model_dump()}
