"""Simulated seekers: one :class:`UserSimulator` protocol, a deterministic and an LLM implementation.

Both open with the case's real opening and know the first target's KG facts; whether a list is accepted
is decided by the protocol (a target in the top k), never by a simulator. Neither may name a target:
everything they say passes a :class:`TitleGuard`.

- ``hints`` (our own, far easier than iEvaLM's attribute-based seeker): answers a question about genre,
  actor, director, writer, period or a movie they liked truthfully from the facts and the known history;
  turns a list down with one new true hint, general to specific (genre, decade, actors, director, writer).
- ``llm`` (iEvaLM / InteRecAgent-style): a seeker persona with the history and the target's facts
  (never its title), told never to name it, on any chat model at a fixed temperature and per-turn seed.
  A reply that names a target is generated again (other seed), then redacted; the first draft's leak is
  recorded.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass, field
from typing import Protocol

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage

from crs_agent.evals.cases import GENERIC_OPENING, Case
from crs_agent.evals.leaks import TitleGuard
from crs_agent.evals.transcripts import Turn
from crs_agent.knowledge import Knowledge, item_node

__all__ = ["HintsSimulator", "LlmSimulator", "SimulatedUser", "UserReply", "UserSimulator", "target_facts"]

REJECT = "Not those, something else please."
ACCEPT = "Yes, that's the one I was looking for. Thanks!"
NOTHING_MORE = "I don't have anything more specific in mind."
_RELATIONS = {
    "genre": "has_genre",
    "decade": "released_in",
    "star": "stars",
    "director": "directed_by",
    "writer": "written_by",
}
_HINT_ORDER = [  # one new true hint per turned-down list, general to specific
    ("genre", 0), ("decade", 0), ("star", 0), ("director", 0), ("star", 1), ("writer", 0), ("genre", 1), ("star", 2),
]  # fmt: skip
_PHRASES = {
    "genre": "I'd like {a} {value} movie.",
    "decade": "Something from the {value}.",
    "star": "I'd like something with {value}.",
    "director": "Ideally directed by {value}.",
    "writer": "Maybe something written by {value}.",
    "liked": "I really liked {value}.",
}
_ASKS = {  # what a system question asks about, by keyword
    "liked": r"\b(movies?|films?|titles?) (that )?you (loved|liked|enjoyed)|\bfavou?rite (movie|film)",
    "genre": r"\bgenres?\b|\b(kind|type|sort) of (movie|film)",
    "decade": r"\b(decades?|period|era|years?|old(er)?|recent|newer|classics?|\d0s)\b",
    "star": r"\b(actors?|actress(es)?|stars?|cast|starring)\b",
    "director": r"\b(directors?|directed|filmmakers?)\b",
    "writer": r"\b(writers?|written|screenwriters?|authors?)\b",
}


@dataclass
class UserReply:
    text: str
    leaked: bool = False


class SimulatedUser(Protocol):
    def opening(self) -> UserReply: ...
    def respond(self, turn: Turn) -> UserReply: ...


class UserSimulator(Protocol):
    name: str

    def start(self, case: Case, seed: int) -> SimulatedUser: ...


def target_facts(knowledge: Knowledge, case: Case) -> dict[str, list[str]]:
    """Attribute -> values of the first target that has KG facts (genre, decade, star, director, writer)."""
    for target in case.targets:
        facts = knowledge.kg.facts(item_node(target))
        out = {kind: list(dict.fromkeys(facts.get(rel, []))) for kind, rel in _RELATIONS.items()}
        if any(out.values()):
            return out
    return {kind: [] for kind in _RELATIONS}


def _guard(knowledge: Knowledge, case: Case) -> TitleGuard:
    items = [knowledge.catalog.get(t) for t in case.targets]
    return TitleGuard([name for item in items if item for name in (item.title, *item.aliases)])


def _opening(case: Case, guard: TitleGuard) -> UserReply:
    return UserReply(guard.redact(case.opening, "") or GENERIC_OPENING, leaked=guard.leaks(case.opening))


# -- hints ----------------------------------------------------------------------------------------
class HintsSimulator:
    name = "hints"

    def __init__(self, knowledge: Knowledge) -> None:
        self.knowledge = knowledge

    def start(self, case: Case, seed: int = 0) -> HintsUser:
        guard = _guard(self.knowledge, case)
        liked = [self.knowledge.catalog[i].title for i in case.history if i in self.knowledge.catalog]
        return HintsUser(case, {**target_facts(self.knowledge, case), "liked": liked}, guard)


@dataclass
class HintsUser:
    case: Case
    facts: dict[str, list[str]]
    guard: TitleGuard
    said: set[tuple[str, str]] = field(default_factory=set)

    def opening(self) -> UserReply:
        return _opening(self.case, self.guard)

    def respond(self, turn: Turn) -> UserReply:
        if turn.question:
            for kind in [turn.asked] if turn.asked in _ASKS else asked_about(turn.reply):
                answer = self._say(kind)
                if answer:
                    return UserReply(answer)
            return UserReply(self._hint() or NOTHING_MORE)
        return UserReply(f"{REJECT} {self._hint()}".strip())

    def _say(self, kind: str, index: int | None = None) -> str | None:
        """A true sentence about ``kind`` not said before (the ``index``-th value only, when given)."""
        values = self.facts.get(kind, [])
        for n, value in enumerate(values):
            if (kind, value) in self.said or (index is not None and n != index):
                continue
            a = "an" if value[:1].lower() in "aeiou" else "a"
            text = _PHRASES[kind].format(value=value, a=a)
            if self.guard.leaks(text):  # a person or a liked movie that shares the target's title
                continue
            self.said.add((kind, value))
            return text
        return None

    def _hint(self) -> str:
        for kind, index in _HINT_ORDER:
            text = self._say(kind, index)
            if text:
                return text
        for kind in _RELATIONS:  # anything true left
            text = self._say(kind)
            if text:
                return text
        return ""


def asked_about(question: str) -> list[str]:
    """The attributes a question asks about, in the order it names them."""
    found = [(m.start(), kind) for kind, pattern in _ASKS.items() if (m := re.search(pattern, question, re.I))]
    return [kind for _, kind in sorted(found)]


# -- llm ------------------------------------------------------------------------------------------
class LlmSimulator:
    name = "llm"

    def __init__(self, knowledge: Knowledge, model: BaseChatModel, temperature: float = 0.3, attempts: int = 3):
        self.knowledge, self.model, self.temperature, self.attempts = knowledge, model, temperature, attempts

    def start(self, case: Case, seed: int = 0) -> LlmUser:
        guard = _guard(self.knowledge, case)
        liked = [self.knowledge.catalog[i].title for i in case.history[:5] if i in self.knowledge.catalog]
        liked = [t for t in liked if not guard.leaks(t)]
        persona = (
            "You are a person chatting with a movie recommender to find a movie to watch tonight. "
            + (f"Movies you liked before: {', '.join(liked)}. " if liked else "")
            + "You have one movie in mind but never say its title. You write short, casual messages."
        )
        return LlmUser(self, case, seed, guard, persona, _details(target_facts(self.knowledge, case)))


def _details(facts: dict[str, list[str]]) -> list[tuple[str, str]]:
    """(fact, phrase a seeker can ask for) for the target's facts, general to specific (never the title)."""
    a = lambda g: "an" if g[:1] in "aeiou" else "a"  # noqa: E731
    return [
        *((g, f"{a(g)} {g} movie") for g in facts["genre"][:2]),
        *((d, f"a movie from the {d}") for d in facts["decade"][:1]),
        *((name, f"a movie with {name}") for name in facts["star"][:3]),
        *((name, f"a movie directed by {name}") for name in facts["director"][:1]),
    ]


@dataclass
class LlmUser:
    sim: LlmSimulator
    case: Case
    seed: int
    guard: TitleGuard
    persona: str
    details: list[tuple[str, str]]
    said: list[str] = field(default_factory=list)

    def opening(self) -> UserReply:
        return _opening(self.case, self.guard)

    def respond(self, turn: Turn) -> UserReply:
        """One reply to the latest system turn. The prompt is the persona and one concrete request with up to
        two details not mentioned yet: small models follow that far better than a role-play history."""
        self.said.append(turn.user)
        before = " ".join(self.said).lower()
        fresh = [phrase for fact, phrase in self.details if fact.lower() not in before][:2]
        wants = " and ".join(fresh or [phrase for _, phrase in self.details[-1:]]) or "something else"
        if turn.question:
            request = f'answering the recommender\'s question "{turn.reply.strip()[:200]}". The fan wants {wants}.'
        else:
            titles = " or ".join(s.title for s in turn.shown[:3]) or "those movies"
            request = f"to a movie recommender. The fan does not want {titles}, and asks for {wants}."
        request = "Write one short chat message from a movie fan " + request
        messages: list[BaseMessage] = [SystemMessage(self.persona), HumanMessage(request)]
        first_leaked, draft = False, ""
        for attempt in range(self.sim.attempts):
            draft = self._generate(messages, attempt)
            if not self.guard.leaks(draft):
                return UserReply(draft, leaked=first_leaked)
            first_leaked = first_leaked or attempt == 0
        return UserReply(self.guard.redact(draft) or REJECT, leaked=True)

    def _generate(self, messages: list[BaseMessage], attempt: int) -> str:
        seed = zlib.crc32(f"{self.seed}:{self.case.id}:{len(self.said)}:{attempt}".encode())
        reply = self.sim.model.invoke(messages, temperature=self.sim.temperature, seed=seed, max_tokens=64)
        return _clean(str(reply.content)) or REJECT


def _clean(text: str) -> str:
    """The first two sentences of the first non-empty line, without a speaker prefix or quotes."""
    line = next((line.strip() for line in text.splitlines() if line.strip()), "")
    line = re.sub(r"^(seeker|user|me|you|assistant)\s*:\s*", "", line, flags=re.I).strip(" \"'")
    sentences = re.split(r"(?<=[.!?])\s+", line)
    return " ".join(sentences[:2])[:300]
