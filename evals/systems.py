"""The systems under evaluation behind one interface: the agent (and its ablations) and three baselines.

A :class:`System` opens one :class:`Session` per case. A session is told the user's known history
(``know``), answers user messages (``respond``) and, in replayed dialogues, hears the real recommender's
turns (``hear``). The baselines never ask questions; in a simulated conversation they never show an item
twice (the user only goes on after turning a list down).
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
from langchain_core.callbacks import get_usage_metadata_callback
from langchain_core.language_models import BaseChatModel

from crs_agent.agent.understand import read_into
from crs_agent.evals.transcripts import Shown, Turn
from crs_agent.knowledge import Knowledge
from crs_agent.tools import Profile, grounded_entities
from crs_agent.tools.context import LastReply, fold_heard, fold_shown
from crs_agent.tools.linker import Linker

__all__ = ["ABLATIONS", "BASELINES", "SYSTEMS", "Session", "System", "make_system", "system_error"]

RANKED = 50  # how much of each ranking a transcript keeps (Recall@50)
ABLATIONS: dict[str, dict[str, Any]] = {
    "agent": {},
    "agent-no-kg": {"use_kg": False},
    "agent-no-reflect": {"use_reflection": False},
    "agent-single-path": {"multi_path": False},
    "agent-no-memory": {"use_memory": False},
}
BASELINES = ("popularity", "embedding", "itemcf")
SYSTEMS = (*ABLATIONS, "tools", *BASELINES)
WITHOUT = "-without-"  # "agent-without-people+kg": that system with those candidate generators left out


def system_error(name: str) -> str | None:
    """Why ``name`` is not a system (None when it is): one of SYSTEMS, or agent / tools ``-without-`` generators."""
    from crs_agent.tools.candidates import GENERATORS

    base, _, skipped = name.partition(WITHOUT)
    if not skipped:
        return None if name in SYSTEMS else f"unknown system {name!r}: choose from {', '.join(SYSTEMS)}"
    if base not in (*ABLATIONS, "tools"):
        return f"{name!r}: only the agent systems and tools can leave generators out ({base!r} cannot)"
    valid = [g.name for g in GENERATORS]
    unknown = [g for g in skipped.split("+") if g not in valid]
    if unknown:
        return f"{name!r}: unknown generator(s) {', '.join(unknown)}: choose from {', '.join(valid)}"
    return None


class Session(Protocol):
    def know(self, history: list[str]) -> None: ...
    def respond(self, message: str) -> Turn: ...
    def hear(self, text: str, item_ids: list[str]) -> None: ...
    def close(self) -> None: ...


class System(Protocol):
    name: str

    def session(self, case_id: str, interactive: bool = True) -> Session: ...


# -- the agent ------------------------------------------------------------------------------------
class AgentSystem:
    def __init__(self, name: str, knowledge: Knowledge, llm: BaseChatModel | None, k: int, **options: Any) -> None:
        from crs_agent.agent import Recommender

        self.name = name
        self.knowledge = knowledge
        self.recommender = Recommender(knowledge, llm, top_k=k, **options)

    def session(self, case_id: str, interactive: bool = True) -> AgentSession:
        return AgentSession(self, f"eval-{self.name}-{case_id}-{uuid.uuid4().hex[:8]}")


@dataclass
class AgentSession:
    system: AgentSystem
    user_id: str
    thread_id: str = "eval"

    def know(self, history: list[str]) -> None:
        """A returning user: the items they liked before go to the agent's memory of them."""
        for item_id in history:
            self.system.recommender.feedback(self.user_id, item_id, liked=True)

    def respond(self, message: str) -> Turn:
        rec = self.system.recommender
        with get_usage_metadata_callback() as usage:
            reply = rec.chat(message, user_id=self.user_id, thread_id=self.thread_id)
        tokens = sum(int(u.get("total_tokens", 0)) for u in usage.usage_metadata.values())
        ranked = reply.trace.ranked or [i.id for i in reply.items]
        profile = rec.profile(self.user_id, self.thread_id)
        return Turn(
            user=message,
            reply=reply.text,
            question=reply.question,
            asked=reply.asked,
            ranked=ranked[:RANKED],
            shown=[self._shown(i.id, i.reason, i.entities, profile) for i in reply.items],
            latency_ms=reply.latency_ms,
            tokens=tokens,
        )

    def _shown(self, item_id: str, reason: str, entities: list[str], profile: Profile) -> Shown:
        knowledge = self.system.knowledge
        grounded = grounded_entities(knowledge, item_id, profile)
        item = knowledge.catalog[item_id]
        return Shown(
            id=item_id,
            title=item.label,
            reason=reason,
            entities=entities,
            ungrounded=[e for e in entities if e.lower() not in grounded],
            popularity=item.popularity,
        )

    def hear(self, text: str, item_ids: list[str]) -> None:
        self.system.recommender.record_reply(self.user_id, self.thread_id, text, item_ids, replaces_last=True)

    def close(self) -> None:
        self.system.knowledge.memory.forget(self.user_id)


# -- baselines ------------------------------------------------------------------------------------
class Baseline:
    """Shared by the baselines: what the user named, what was shown, and the turn record."""

    def __init__(self, name: str, knowledge: Knowledge, k: int) -> None:
        self.name, self.knowledge, self.k = name, knowledge, k
        self.linker = Linker(knowledge.catalog, knowledge.kg)
        self.popular = [i.id for i in sorted(knowledge.catalog, key=lambda i: (-i.mentions, -i.popularity))]
        self.ids = knowledge.catalog.ids()

    def session(self, case_id: str, interactive: bool = True) -> BaselineSession:
        return BaselineSession(self, interactive)

    def rank(self, session: BaselineSession, exclude: set[str]) -> list[str]:
        raise NotImplementedError


@dataclass
class BaselineSession:
    system: Baseline
    interactive: bool
    liked: list[str] = field(default_factory=list)
    said: list[str] = field(default_factory=list)
    shown: set[str] = field(default_factory=set)

    def know(self, history: list[str]) -> None:
        self.liked += [i for i in history if i not in self.liked]

    def respond(self, message: str) -> Turn:
        started = time.perf_counter()
        linked = self.system.linker.link(message)
        self.liked += [i for i in linked.liked_ids if i not in self.liked]
        self.said.append(message)
        exclude = {*self.liked, *linked.mentioned_ids, *(self.shown if self.interactive else ())}
        ranked = self.system.rank(self, exclude)[:RANKED]
        self.shown.update(ranked[: self.system.k])
        catalog = self.system.knowledge.catalog
        shown = [Shown(id=i, title=catalog[i].label, popularity=catalog[i].popularity) for i in ranked[: self.system.k]]
        text = "\n".join(f"{n}. {s.title}" for n, s in enumerate(shown, start=1))
        latency = round((time.perf_counter() - started) * 1000, 1)
        return Turn(user=message, reply=text, ranked=ranked, shown=shown, latency_ms=latency)

    def hear(self, text: str, item_ids: list[str]) -> None:
        self.said.append(text)

    def close(self) -> None:
        return None


class PopularityBaseline(Baseline):
    """The most mentioned movies in training-split dialogues (then the rating prior)."""

    def rank(self, session: BaselineSession, exclude: set[str]) -> list[str]:
        return [i for i in self.popular[: RANKED + len(exclude)] if i not in exclude]


class EmbeddingBaseline(Baseline):
    """Nearest items to the mean embedding of the last three messages and the liked items' vectors."""

    def rank(self, session: BaselineSession, exclude: set[str]) -> list[str]:
        k = self.knowledge
        texts = [t[:300] for t in session.said[-3:] if t.strip()]
        vectors = [np.asarray(k.embedder([t])[0], dtype=np.float32) for t in texts]  # one by one: cached
        vectors += [k.vectors[k.row[i]] for i in session.liked[-5:] if i in k.row]
        if not vectors:
            return [i for i in self.popular[: RANKED + len(exclude)] if i not in exclude]
        order = np.argsort(-(k.vectors @ np.mean(vectors, axis=0)))[: RANKED + len(exclude)]
        return [self.ids[n] for n in order if self.ids[n] not in exclude]


class ItemCfBaseline(Baseline):
    """Item-to-item collaborative filtering from the liked movies (MovieLens ratings and co-mentions),
    filled up with popular movies."""

    def rank(self, session: BaselineSession, exclude: set[str]) -> list[str]:
        totals: dict[str, float] = {}
        for liked in session.liked:
            for source in ("ratings", "sessions"):
                for other, sim in self.knowledge.collab.neighbours(liked, source).items():
                    totals[other] = totals.get(other, 0.0) + max(sim, 0.0)
        ranked = sorted((i for i in totals if i not in exclude), key=lambda i: -totals[i])
        seen = set(ranked)
        return ranked + [i for i in self.popular[: RANKED + len(exclude)] if i not in exclude and i not in seen]


# -- the tools without the dialogue agent --------------------------------------------------------------
class ToolsSystem:
    """The agent's reading of each message and its recommender core (every candidate generator, then the
    ranker), with no planner, reflection or LLM: what the agent's own replay score is compared with."""

    def __init__(self, name: str, knowledge: Knowledge, k: int, skip: tuple[str, ...] = ()) -> None:
        from crs_agent.tools import Toolkit

        self.name, self.knowledge, self.k = name, knowledge, k
        self.toolkit = Toolkit(knowledge, skip=skip)
        self.linker = Linker(knowledge.catalog, knowledge.kg)

    def session(self, case_id: str, interactive: bool = True) -> ToolsSession:
        return ToolsSession(self)


@dataclass
class ToolsSession:
    system: ToolsSystem
    profile: Profile = field(default_factory=Profile)
    last: LastReply | None = None

    def know(self, history: list[str]) -> None:
        known = [i for i in history if i in self.system.knowledge.catalog]
        self.profile = self.profile.model_copy(
            update={"liked_ids": known[-50:], "seen_ids": known[-200:], "mentioned_ids": known[-200:]}
        )

    def respond(self, message: str) -> Turn:
        started = time.perf_counter()
        embedder = self.system.knowledge.embedder
        self.profile = read_into(self.profile, message, self.system.linker, self.last, embedder)
        ranked = [c.item_id for c in self.system.toolkit.recommend(self.profile, RANKED)]
        shown_ids = ranked[: self.system.k]
        self.profile = fold_shown(self.profile, shown_ids)
        self.last = LastReply(item_ids=shown_ids, own=True)
        catalog = self.system.knowledge.catalog
        shown = [Shown(id=i, title=catalog[i].label, popularity=catalog[i].popularity) for i in shown_ids]
        text = "\n".join(f"{n}. {s.title}" for n, s in enumerate(shown, start=1))
        latency = round((time.perf_counter() - started) * 1000, 1)
        return Turn(user=message, reply=text, ranked=ranked, shown=shown, latency_ms=latency)

    def hear(self, text: str, item_ids: list[str]) -> None:
        undelivered = self.last.item_ids if self.last is not None and self.last.own else None
        self.profile = fold_heard(self.profile, text, item_ids, undelivered)
        self.last = LastReply(item_ids=list(item_ids), own=False)

    def close(self) -> None:
        return None


def make_system(name: str, knowledge: Knowledge, llm: BaseChatModel | None, k: int) -> System:
    error = system_error(name)
    if error:
        raise ValueError(error)
    base, _, skipped = name.partition(WITHOUT)
    skip = tuple(skipped.split("+")) if skipped else ()
    if base in ABLATIONS:
        return AgentSystem(name, knowledge, llm, k, skip_generators=skip, **ABLATIONS[base])
    if base == "tools":
        return ToolsSystem(name, knowledge, k, skip)
    baselines = {"popularity": PopularityBaseline, "embedding": EmbeddingBaseline, "itemcf": ItemCfBaseline}
    if name not in baselines:
        raise ValueError(f"unknown system {name!r}: choose from {', '.join(SYSTEMS)}")
    return baselines[name](name, knowledge, k)
