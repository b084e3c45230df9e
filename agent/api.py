"""The public Python API: ``Recommender`` over the compiled graph, with typed replies and streaming.

Conversations persist in a LangGraph checkpointer (SQLite in the data directory by default), one
thread per conversation. Thread ids are namespaced by user, so user B naming user A's thread id opens
B's own thread, never A's.
"""

from __future__ import annotations

import logging
import re
import time
import weakref
from collections.abc import AsyncIterator, Collection, Iterator
from contextlib import contextmanager
from typing import Any, Literal, get_args
from urllib.parse import quote

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph.state import CompiledStateGraph
from pydantic import BaseModel, Field

from crs_agent.agent.graph import build_graph
from crs_agent.agent.llm import make_chat_model
from crs_agent.agent.persistence import make_checkpointer, thread_ids
from crs_agent.agent.respond import Asked, ReplyItem
from crs_agent.agent.state import Deps, Path, Verdict
from crs_agent.agent.understand import clean_message
from crs_agent.knowledge import Catalog, Knowledge, Settings, ensure_index
from crs_agent.knowledge.errors import CrsAgentError, EmptyMessageError
from crs_agent.knowledge.locks import serve_lock
from crs_agent.tools import Profile, Toolkit
from crs_agent.tools.context import fold_heard
from crs_agent.tools.linker import Linker

__all__ = ["ProfileField", "Recommender", "Reply", "StreamEvent", "Trace"]

log = logging.getLogger(__name__)

# Profile entries a user can take back with ``Recommender.forget``; "years" clears both year bounds.
ProfileField = Literal[
    "liked_ids",
    "disliked_ids",
    "seen_ids",
    "rejected_ids",
    "genres",
    "exclude_genres",
    "people",
    "exclude_people",
    "wishes",
    "years",
]
_MENTION = re.compile(r"(?<![\w@])@(\d+)\b")  # "@123": a catalog id, as the linker reads it
# Which memories stand behind a profile entry: (metadata key, polarity sign).
_MEMORY_OF_FIELD: dict[str, tuple[str, int]] = {
    "liked_ids": ("item_id", 1),
    "disliked_ids": ("item_id", -1),
    "exclude_genres": ("genre", -1),
    "exclude_people": ("person", -1),
}


class Trace(BaseModel):
    """The agent's work for one turn: every explored path, the reflection verdicts, the final decision."""

    paths: list[Path] = Field(default_factory=list)
    verdicts: list[Verdict] = Field(default_factory=list)
    intent: str = ""
    steps: int = 0
    ranked: list[str] = Field(default_factory=list, description="The whole ranking this turn, best first.")


class Reply(BaseModel):
    text: str
    items: list[ReplyItem] = Field(default_factory=list)
    question: bool = False
    asked: Asked | None = Field(default=None, description="What the question asks about, when the reply is one.")
    notices: list[str] = Field(default_factory=list)
    trace: Trace = Field(default_factory=Trace)
    user_id: str
    thread_id: str
    latency_ms: float = 0.0


class StreamEvent(BaseModel):
    kind: Literal["token", "trace", "reply"]
    text: str = ""
    node: str = ""
    data: dict[str, Any] = Field(default_factory=dict)
    reply: Reply | None = None


class Recommender:
    """A conversational recommender: ``chat`` / ``stream`` a message for a user and a thread."""

    def __init__(
        self,
        knowledge: Knowledge,
        llm: BaseChatModel | None = None,
        *,
        checkpointer: BaseCheckpointSaver | None = None,
        top_k: int = 3,
        skip_generators: Collection[str] = (),
        **options: Any,
    ) -> None:
        self.knowledge = knowledge
        self.llm = llm
        self.toolkit = Toolkit(knowledge, skip=skip_generators)  # skipping generators: for ablations
        self.linker = Linker(knowledge.catalog, knowledge.kg)
        self.top_k = top_k
        self.options = options  # use_kg, use_reflection, multi_path, use_memory, step_budget, llm_critique
        self.checkpointer = checkpointer or InMemorySaver()
        self.graph: CompiledStateGraph = build_graph(self.toolkit.tools()).compile(checkpointer=self.checkpointer)

    @classmethod
    def from_settings(cls, settings: Settings | None = None, **overrides: Any) -> Recommender:
        """Load (building if needed) the index, the configured LLM and the conversation store
        (``Settings.checkpoint``: SQLite in the data directory by default).

        With the embedded Chroma store, the data directory is this process's until :meth:`close` or exit:
        another process gets :class:`~crs_agent.knowledge.errors.DataDirBusyError`, which says how to share.
        """
        settings = settings or Settings()
        lease = serve_lock(settings)  # an embedded Chroma store serves one process: refuse a second one clearly
        try:
            knowledge = ensure_index(settings)
            rec = cls(knowledge, make_chat_model(settings), checkpointer=make_checkpointer(settings), **overrides)
        except BaseException:
            if lease is not None:
                lease.release()
            raise
        if lease is not None:
            rec._release_data_dir = weakref.finalize(rec, lease.release)
        return rec

    _release_data_dir: weakref.finalize | None = None

    def close(self) -> None:
        """Let another process serve this data directory (``from_settings`` holds it while the embedded Chroma
        store is in use; exiting also lets it go). Idempotent; use no other method afterwards."""
        if self._release_data_dir is not None:
            self._release_data_dir()

    # -- internals ------------------------------------------------------------------------------
    def _deps(self, user_id: str) -> Deps:
        if not user_id or not user_id.strip():
            raise ValueError("user_id must be a non-empty string")
        options = {**Deps.configured(self.knowledge.settings, self.llm), **self.options}
        return Deps(self.toolkit, self.linker, user_id, self.llm, top_k=self.top_k, **options)

    @staticmethod
    def _config(user_id: str, thread_id: str) -> dict[str, Any]:
        return {"configurable": {"thread_id": _thread_key(user_id, thread_id)}, "recursion_limit": 40}

    def _reply(self, state: dict[str, Any], user_id: str, thread_id: str, started: float) -> Reply:
        reply = state.get("reply", {})
        trace = Trace(
            paths=[Path.model_validate(p) for p in state.get("paths", [])],
            verdicts=[Verdict.model_validate(v) for v in state.get("verdicts", [])],
            intent=state.get("intent", ""),
            steps=state.get("steps", 0),
            ranked=list(state.get("ranked", [])),
        )
        return Reply(
            text=reply.get("text", ""),
            items=[ReplyItem.model_validate(i) for i in reply.get("items", [])],
            question=reply.get("question", False),
            asked=reply.get("asked"),
            notices=reply.get("notices", []),
            trace=trace,
            user_id=user_id,
            thread_id=thread_id,
            latency_ms=round((time.perf_counter() - started) * 1000, 1),
        )

    @contextmanager
    def _whole_turn(self, config: dict[str, Any]) -> Iterator[None]:
        """Leave the thread as it was when the turn raises: LangGraph stores the steps that ran before an
        error, which would leave a message without its answer. The thread's previous checkpoint becomes its
        head again (LangGraph's ``__copy__`` fork); a thread the turn started is deleted."""
        before = self.graph.get_state(config).config
        try:
            yield
        except BaseException:
            try:
                after = self.graph.get_state(config).config
                if after["configurable"].get("checkpoint_id") != before["configurable"].get("checkpoint_id"):
                    if before["configurable"].get("checkpoint_id"):
                        self.graph.update_state(before, None, as_node="__copy__")
                    else:
                        self.checkpointer.delete_thread(config["configurable"]["thread_id"])
            except CrsAgentError:  # the store itself failed (busy, unreachable): the turn's own error is the news
                log.warning("could not take back the failed turn", exc_info=True)
            raise

    # -- public ---------------------------------------------------------------------------------
    def chat(self, message: str, user_id: str = "default", thread_id: str = "default") -> Reply:
        """One turn. An empty message raises :class:`EmptyMessageError` and changes nothing."""
        message, notices = _prepare_message(message, self.knowledge.catalog)
        started = time.perf_counter()
        config = self._config(user_id, thread_id)
        # durability "exit": a turn is stored whole when it ends, so a process killed mid-turn leaves no half turn
        with self._whole_turn(config):
            state = self.graph.invoke({"message": message}, config, context=self._deps(user_id), durability="exit")
        return _with_notices(self._reply(state, user_id, thread_id, started), notices)

    def stream(self, message: str, user_id: str = "default", thread_id: str = "default") -> Iterator[StreamEvent]:
        """Tokens of the answer as they are produced, a trace event per node, then the typed reply."""
        message, notices = _prepare_message(message, self.knowledge.catalog)
        started = time.perf_counter()
        config = self._config(user_id, thread_id)
        if notices:
            yield StreamEvent(kind="token", text="\n".join(notices) + "\n")
        with self._whole_turn(config):  # a stream that fails or is abandoned mid-turn stores nothing of it
            for mode, chunk in self.graph.stream(
                {"message": message},
                config,
                context=self._deps(user_id),
                stream_mode=["custom", "updates"],
                durability="exit",
            ):
                if mode == "custom" and "token" in chunk:
                    yield StreamEvent(kind="token", text=chunk["token"])
                elif mode == "updates":
                    for node, update in chunk.items():
                        yield StreamEvent(kind="trace", node=node, data=_trace_data(update))
        state = self.graph.get_state(config).values
        yield StreamEvent(kind="reply", reply=_with_notices(self._reply(state, user_id, thread_id, started), notices))

    async def achat(self, message: str, user_id: str = "default", thread_id: str = "default") -> Reply:
        import asyncio

        return await asyncio.to_thread(self.chat, message, user_id, thread_id)

    async def astream(
        self, message: str, user_id: str = "default", thread_id: str = "default"
    ) -> AsyncIterator[StreamEvent]:
        import asyncio

        iterator = self.stream(message, user_id, thread_id)
        sentinel = object()
        while (event := await asyncio.to_thread(next, iterator, sentinel)) is not sentinel:
            yield event  # type: ignore[misc]

    def feedback(self, user_id: str, item_id: str, liked: bool, thread_id: str | None = None) -> None:
        """Thumbs up/down: remembered for the user, and applied to the thread's profile when given."""
        item = self.knowledge.catalog.get(item_id)
        if item is None:
            raise ValueError(f"unknown item id {item_id!r}")
        verb = "liked" if liked else "disliked"
        self.knowledge.memory.remember(
            user_id, f"{verb} {item.label}", kind="feedback", item_id=item_id, polarity=1 if liked else -1
        )
        if thread_id is not None:
            profile = self.profile(user_id, thread_id)
            keep, drop = (
                (profile.liked_ids, profile.disliked_ids) if liked else (profile.disliked_ids, profile.liked_ids)
            )
            if item_id in drop:
                drop.remove(item_id)
            if item_id not in keep:
                keep.append(item_id)
            self.graph.update_state(
                self._config(user_id, thread_id), {"profile": profile.model_dump()}, as_node="understand"
            )

    def forget(self, user_id: str, field: ProfileField, value: str = "", thread_id: str | None = None) -> Profile:
        """Take back one profile entry (a liked item, an excluded genre...): from the user's memory, so new
        conversations do not bring it back, and from the thread's profile when ``thread_id`` is given.

        Returns the thread's profile after the change (an empty one without ``thread_id``).
        """
        if field not in get_args(ProfileField):
            raise ValueError(f"unknown profile field {field!r}")
        memory = self.knowledge.memory
        if field in _MEMORY_OF_FIELD:
            key, sign = _MEMORY_OF_FIELD[field]
            ids = [
                r.id
                for r in memory.all(user_id)
                if str(r.meta.get(key, "")) == value and int(r.meta.get("polarity", 0)) * sign > 0
            ]
            if ids:
                memory.collection.delete(ids=ids)
        if thread_id is None:
            return Profile()
        config = self._config(user_id, thread_id)
        values = self.graph.get_state(config).values
        if "profile" not in values:
            return Profile()
        profile = Profile.model_validate(values["profile"])
        if field == "years":
            profile.year_min = profile.year_max = None
        else:
            setattr(profile, field, [v for v in getattr(profile, field) if v != value])
        self.graph.update_state(config, {"profile": profile.model_dump()}, as_node="understand")
        return profile

    def last_reply(self, user_id: str, thread_id: str = "default") -> Reply | None:
        """The thread's latest answer with its items and trace (``None`` before the first one): for reopening."""
        values = self.graph.get_state(self._config(user_id, thread_id)).values
        if not values.get("reply"):
            return None
        return self._reply(values, user_id, thread_id, time.perf_counter()).model_copy(update={"latency_ms": 0.0})

    def record_reply(
        self, user_id: str, thread_id: str, text: str, item_ids: list[str], *, replaces_last: bool = False
    ) -> None:
        """Add a recommender turn that this agent did not write (a human recommender in a replayed
        dialogue, say), so the user's next message is read against it ("seen it", "sounds good").

        ``replaces_last``: the turn was said instead of this agent's last answer, which the user never saw (its
        list is not counted as shown, its question not as asked).
        """
        config = self._config(user_id, thread_id)
        values = self.graph.get_state(config).values
        profile = Profile.model_validate(values.get("profile", {}))
        last = values.get("reply", {})
        replaced = replaces_last and not last.get("heard")
        undelivered = list(last.get("item_ids", [])) if replaced else None
        unasked = last.get("asked") if replaced and last.get("question") else None
        reply = {"text": text, "question": False, "items": [], "item_ids": list(item_ids), "notices": [], "heard": True}
        update = {"messages": [AIMessage(content=text)], "reply": reply}
        update["profile"] = fold_heard(profile, text, list(item_ids), undelivered, unasked).model_dump()
        self.graph.update_state(config, update, as_node="respond")

    def profile(self, user_id: str, thread_id: str = "default") -> Profile:
        values = self.graph.get_state(self._config(user_id, thread_id)).values
        return Profile.model_validate(values.get("profile", {}))

    def history(self, user_id: str, thread_id: str = "default") -> list[tuple[str, str]]:
        values = self.graph.get_state(self._config(user_id, thread_id)).values
        return [(m.type, str(m.content)) for m in values.get("messages", []) if m.type in ("human", "ai") and m.content]

    def threads(self, user_id: str) -> list[str]:
        """This user's conversations (only theirs), most recent first."""
        prefix = _thread_key(user_id, "")
        found = thread_ids(self.checkpointer, prefix)  # one SQL query on SQLite and PostgreSQL
        if found is not None:
            return found
        latest: dict[str, str] = {}  # thread -> newest checkpoint id (time-ordered ids)
        for checkpoint in self.checkpointer.list(None):
            configurable = checkpoint.config["configurable"]
            thread, checkpoint_id = configurable["thread_id"], str(configurable.get("checkpoint_id", ""))
            if thread.startswith(prefix) and checkpoint_id > latest.get(thread, ""):
                latest[thread] = checkpoint_id
        return [t[len(prefix) :] for t in sorted(latest, key=latest.__getitem__, reverse=True)]


def _prepare_message(message: str, catalog: Catalog) -> tuple[str, list[str]]:
    """The text the graph (and so the LLM and the conversation store) gets, and notices for the reply.

    Control characters go (newlines and tabs stay), text that is not valid Unicode is replaced, a message
    longer than ``MAX_MESSAGE_CHARS`` is cut (and the reply says so), and ``@id`` mentions the catalog does
    not have are named. Nothing to read raises :class:`EmptyMessageError` before anything is stored.
    """
    text, notices = clean_message("" if message is None else str(message))
    if not text:
        raise EmptyMessageError()
    unknown = [i for i in dict.fromkeys(_MENTION.findall(text)) if i not in catalog]
    if unknown:
        named = ", ".join(f"@{i}" for i in unknown[:5])
        notices.append(f"I don't know {named} in this catalog, so I ignored {'it' if len(unknown) == 1 else 'them'}.")
    return text, notices


def _with_notices(reply: Reply, notices: list[str]) -> Reply:
    if not notices:
        return reply
    return reply.model_copy(update={"notices": [*notices, *reply.notices], "text": "\n".join([*notices, reply.text])})


def _thread_key(user_id: str, thread_id: str) -> str:
    """The checkpointer's thread id: the user id percent-encoded (so it holds no ":"), "::", the thread id.

    No choice of user and thread ids can reach another user's thread ("a::b" + "c" is not "a" + "b::c").
    """
    return f"{quote(user_id, safe='')}::{thread_id}"


def _trace_data(update: Any) -> dict[str, Any]:
    if not isinstance(update, dict):
        return {}
    keep = ("intent", "paths", "verdicts", "decision", "ranked", "steps")
    return {k: v for k, v in update.items() if k in keep}
