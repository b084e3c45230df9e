"""The page's callbacks, free of layout: each returns (or, for a message, yields) a :class:`View`.

A :class:`View` says what to show; ``None`` in a field means "leave it as it is". Who the user is comes
from the browser: an anonymous id kept in the browser's storage, or the name the user typed. The browser
keeps ``{"anon": ..., "name": ..., "thread": ...}`` (see :meth:`ChatCallbacks.start`).
"""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from crs_agent.agent import Recommender, Reply, Settings, StreamEvent
from crs_agent.agent.llm import model_failures
from crs_agent.knowledge import CrsAgentError
from crs_agent.knowledge.errors import EmptyMessageError
from crs_agent.tools import Profile
from crs_agent.ui.render import (
    STATUS_OF_NODE,
    correction_choices,
    profile_markdown,
    thread_label,
    trace_markdown,
)

__all__ = ["ChatCallbacks", "View", "check_user_id"]

log = logging.getLogger(__name__)

_NAME = re.compile(r"^[\w .@'-]{1,40}$")
_MAX_THREADS = 20
_FALLBACK_NODE = "rules-fallback"  # a trace event of ours: the LLM failed, the turn restarts on the rules backend


def check_user_id(user_id: str) -> str:
    """A usable user id, or ``ValueError``: ``::`` separates user and thread in the conversation store."""
    user_id = user_id.strip()
    if not user_id or "::" in user_id or len(user_id) > 80:
        raise ValueError("user_id must be 1-80 characters without '::'")
    return user_id


def _assistant(text: str) -> dict[str, str]:
    return {"role": "assistant", "content": text}


@dataclass
class View:
    """What the page shows; ``None`` leaves a part unchanged."""

    stored: dict[str, str] | None = None  # the browser's copy of who and where the user is
    user_id: str | None = None
    thread_id: str | None = None
    who: str | None = None
    name: str | None = None
    message_box: str | None = None
    messages: list[dict[str, str]] | None = None
    items: list[dict[str, Any]] | None = None  # the last answer's items (ReplyItem dumps)
    marks: dict[str, bool] | None = None  # item id -> liked (True) / disliked (False), from the profile
    trace: str | None = None
    profile: str | None = None
    corrections: list[tuple[str, str]] | None = None
    threads: list[tuple[str, str]] | None = None
    notice: str | None = None


class ChatCallbacks:
    """What the page does, over one :class:`Recommender` shared by every browser."""

    def __init__(self, recommender: Recommender, settings: Settings) -> None:
        self.rec = recommender
        self.settings = settings
        self._rules: Recommender | None = None
        self._model_errors = (*model_failures(), OSError)  # what a failing LLM backend raises

    # -- who is this? ---------------------------------------------------------------------------
    @staticmethod
    def _who(stored: dict[str, str]) -> str:
        if stored.get("name"):
            return f"Chatting as **{stored['name']}**. Names are not passwords: anyone using this name sees these."
        return "Chatting **anonymously**: this browser keeps your conversations. Enter a name to use them elsewhere."

    @staticmethod
    def _user(stored: dict[str, str]) -> str:
        return stored.get("name") or stored["anon"]

    def _latest_or_new_thread(self, user_id: str, threads: list[str] | None = None) -> str:
        threads = self.rec.threads(user_id) if threads is None else threads
        return threads[0] if threads else secrets.token_hex(5)

    def start(self, stored: dict[str, str] | None) -> View:
        """A page (re)load: the browser's user and their open conversation, or a new anonymous user."""
        stored = {"anon": "", "name": "", "thread": "", **(stored or {})}
        if not stored["anon"]:
            stored["anon"] = "browser-" + secrets.token_hex(12)
        if stored["name"] and not _NAME.match(stored["name"]):
            stored["name"] = ""
        user_id = self._user(stored)
        threads = self.rec.threads(user_id)
        if stored["thread"] not in threads:
            stored["thread"] = self._latest_or_new_thread(user_id, threads)
        view = self.show(user_id, stored["thread"])
        view.stored, view.user_id, view.who, view.name = stored, user_id, self._who(stored), stored["name"]
        return view

    def switch_user(self, name: str, stored: dict[str, str]) -> View:
        """Use a name (their latest conversation opens), or go back to the browser's anonymous user."""
        name = name.strip()
        if name and not _NAME.match(name):
            return View(notice="A name is 1-40 letters, digits, spaces or . @ ' - _")
        stored = {**stored, "name": name}
        user_id = self._user(stored)
        stored["thread"] = self._latest_or_new_thread(user_id)
        view = self.show(user_id, stored["thread"])
        view.stored, view.user_id, view.who, view.name = stored, user_id, self._who(stored), name
        return view

    # -- conversations --------------------------------------------------------------------------
    def threads(self, user_id: str) -> list[tuple[str, str]]:
        """(label, thread id) of the user's conversations, most recent first."""
        labels = []
        for thread_id in self.rec.threads(user_id)[:_MAX_THREADS]:
            first = next((text for kind, text in self.rec.history(user_id, thread_id) if kind == "human"), "")
            labels.append((thread_label(first, thread_id), thread_id))
        return labels

    def show(self, user_id: str, thread_id: str, reply: Reply | None = None) -> View:
        """Everything about one conversation: messages, the last answer's items and trace, the profile."""
        reply = reply or self.rec.last_reply(user_id, thread_id)
        messages = self.messages(user_id, thread_id)
        items = [] if reply is None or reply.question else [i.model_dump() for i in reply.items]
        view = self._profile_view(self.rec.profile(user_id, thread_id))
        view.thread_id, view.messages, view.items = thread_id, messages, items
        view.trace, view.threads = trace_markdown(reply.trace if reply else None), self.threads(user_id)
        return view

    def new_conversation(self, stored: dict[str, str], user_id: str) -> View:
        thread_id = secrets.token_hex(5)
        view = self.show(user_id, thread_id)
        view.stored = {**stored, "thread": thread_id}
        return view

    def open_conversation(self, thread_id: str | None, stored: dict[str, str], user_id: str) -> View:
        """Reopen one of the user's conversations (only theirs: another user's id opens nothing)."""
        if not thread_id or thread_id not in self.rec.threads(user_id):
            return View(notice="That conversation is not one of yours.")
        view = self.show(user_id, thread_id)
        view.stored = {**stored, "thread": thread_id}
        return view

    # -- a turn ---------------------------------------------------------------------------------
    def _rules_backend(self) -> Recommender:
        if self._rules is None:
            rec = self.rec
            self._rules = Recommender(
                rec.knowledge, None, checkpointer=rec.checkpointer, top_k=rec.top_k, **rec.options
            )
        return self._rules

    def events(self, message: str, user_id: str, thread_id: str) -> Iterator[StreamEvent]:
        """The turn's stream; if the LLM backend fails, the turn is answered again by the rules backend."""
        try:
            yield from self.rec.stream(message, user_id, thread_id)
        except CrsAgentError:
            raise  # ours (an empty message, a broken index) says what to do; another backend would not help
        except self._model_errors as err:
            if self.rec.llm is None:
                raise
            log.warning("the LLM backend failed; answering with the rules backend", exc_info=True)
            notice = f"The language model failed ({type(err).__name__}); this answer comes from the rules backend."
            yield StreamEvent(kind="trace", node=_FALLBACK_NODE, data={"notice": notice})
            yield from self._rules_backend().stream(message, user_id, thread_id)

    def answer(self, message: str, user_id: str, thread_id: str) -> Reply:
        """One turn without streaming (the HTTP API); a fallback's notice is added to ``notices``."""
        notices, reply = [], None
        for event in self.events(message, user_id, thread_id):
            if event.kind == "trace" and event.node == _FALLBACK_NODE:
                notices.append(event.data["notice"])
            elif event.kind == "reply":
                reply = event.reply
        assert reply is not None, "Recommender.stream always ends with the reply"
        return reply.model_copy(update={"notices": [*notices, *reply.notices]})

    def send(self, message: str, user_id: str, thread_id: str) -> Iterator[View]:
        """A message: the answer streams into the chat, then the items, trace, profile and threads refresh."""
        message = (message or "").strip()
        if not message:
            yield View(notice=str(EmptyMessageError()))
            return
        if not user_id:  # the page's load event has not answered yet
            yield View(notice="The page is still loading: send your message again in a moment.")
            return
        messages = [*self.messages(user_id, thread_id), {"role": "user", "content": message}]
        messages.append(_assistant(f"_{STATUS_OF_NODE['understand']}…_"))
        yield View(message_box="", messages=list(messages))
        notice, text, reply = "", "", None
        try:
            for event in self.events(message, user_id, thread_id):
                if event.kind == "token":
                    text += event.text
                    messages[-1] = _assistant(notice + text)
                elif event.kind == "reply":
                    reply = event.reply
                    continue
                elif event.node == _FALLBACK_NODE:
                    notice, text = f"_⚠️ {event.data['notice']}_\n\n", ""
                    messages[-1] = _assistant(notice)
                elif not text and event.node in STATUS_OF_NODE:
                    messages[-1] = _assistant(f"{notice}_{STATUS_OF_NODE[event.node]}…_")
                yield View(messages=list(messages))
        except CrsAgentError as err:
            messages[-1] = _assistant(f"⚠️ {err}")
            yield View(messages=messages)
            return
        assert reply is not None, "Recommender.stream always ends with the reply"
        messages[-1] = _assistant(notice + reply.text)
        view = self.show(user_id, thread_id, reply=reply)
        view.messages = messages
        yield view

    def messages(self, user_id: str, thread_id: str) -> list[dict[str, str]]:
        """The conversation as the chat shows it (as stored: notices of a fallback are not kept)."""
        return [
            {"role": "user" if kind == "human" else "assistant", "content": text}
            for kind, text in self.rec.history(user_id, thread_id)
        ]

    # -- the profile ----------------------------------------------------------------------------
    def _profile_view(self, profile: Profile) -> View:
        catalog = self.rec.knowledge.catalog
        marks = {i: True for i in profile.liked_ids} | {i: False for i in profile.disliked_ids}
        return View(
            marks=marks,
            profile=profile_markdown(profile, catalog),
            corrections=correction_choices(profile, catalog),
        )

    def vote(self, item_id: str, liked: bool, user_id: str, thread_id: str) -> View:
        """👍 / 👎 on an item: remembered for this user and applied to this conversation's profile."""
        self.rec.feedback(user_id, item_id, liked, thread_id)
        view = self._profile_view(self.rec.profile(user_id, thread_id))
        label = self.rec.knowledge.catalog[item_id].label
        view.notice = f"Noted: you liked {label}." if liked else f"Noted: {label} is not for you."
        return view

    def forget(self, selected: list[str], user_id: str, thread_id: str) -> View:
        """Take back the ticked profile entries ("field=value" each, from :func:`correction_choices`)."""
        for choice in selected:
            field_name, _, value = choice.partition("=")
            self.rec.forget(user_id, field_name, value, thread_id=thread_id)  # type: ignore[arg-type]  # it checks
        view = self._profile_view(self.rec.profile(user_id, thread_id))
        if selected:
            view.notice = f"Forgot {len(selected)} profile entr{'ies' if len(selected) > 1 else 'y'}."
        return view
