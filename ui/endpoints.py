"""The app's HTTP API: stable ``api_name`` endpoints over the recommender, for ``gradio_client`` and friends.

    from gradio_client import Client
    client = Client("http://127.0.0.1:7860/")
    reply = client.predict("I loved Inception, no horror", "ana", "t1", api_name="/chat")
    client.predict("ana", reply["items"][0]["id"], True, "t1", api_name="/feedback")

Every endpoint names the user explicitly: the API serves a program acting for its users. The web page's
own events are private (not part of this API) and may change.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

import gradio as gr

from crs_agent.knowledge import CrsAgentError
from crs_agent.ui.callbacks import ChatCallbacks, check_user_id

__all__ = ["ENDPOINTS", "register_api"]

ENDPOINTS = ("/chat", "/feedback", "/profile", "/forget", "/threads", "/history")

P = ParamSpec("P")
R = TypeVar("R")


def _clean_errors(fn: Callable[P, R]) -> Callable[P, R]:
    """Bad arguments and our typed errors reach the client as one-line messages, never tracebacks."""

    @functools.wraps(fn)
    def wrapped(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except (ValueError, CrsAgentError) as err:
            raise gr.Error(str(err), print_exception=False) from err

    return wrapped


def register_api(callbacks: ChatCallbacks) -> None:
    """Add the endpoints to the ``gr.Blocks`` being built (call inside its ``with`` block)."""
    rec = callbacks.rec

    def chat(message: str, user_id: str, thread_id: str = "default") -> dict[str, Any]:
        """Send a message in a conversation; returns the reply: text, items (id, title, year, genres,
        people, score in [0, 1], reason), question (true when the agent asks instead), notices and trace."""
        return callbacks.answer(message, check_user_id(user_id), thread_id).model_dump(mode="json")

    def feedback(user_id: str, item_id: str, liked: bool, thread_id: str = "default") -> dict[str, Any]:
        """Thumbs up (liked=true) or down on an item; remembered for the user. Returns the updated profile."""
        user_id = check_user_id(user_id)
        rec.feedback(user_id, item_id, liked, thread_id)
        return rec.profile(user_id, thread_id).model_dump(mode="json")

    def profile(user_id: str, thread_id: str = "default") -> dict[str, Any]:
        """What the agent believes about the user in this conversation (liked ids, genres, exclusions...)."""
        return rec.profile(check_user_id(user_id), thread_id).model_dump(mode="json")

    def forget(user_id: str, field: str, value: str = "", thread_id: str = "default") -> dict[str, Any]:
        """Take back one profile entry, e.g. field="exclude_genres", value="horror"; returns the profile."""
        return rec.forget(check_user_id(user_id), field, value, thread_id).model_dump(mode="json")  # type: ignore[arg-type]

    def threads(user_id: str) -> list[str]:
        """The user's conversation ids, most recent first."""
        return rec.threads(check_user_id(user_id))

    def history(user_id: str, thread_id: str = "default") -> list[list[str]]:
        """The conversation as [role, text] pairs, role "human" or "ai"."""
        return [list(pair) for pair in rec.history(check_user_id(user_id), thread_id)]

    for fn in (chat, feedback, profile, forget, threads, history):
        # chat and feedback share one queue with the page's turns: one LLM, one turn at a time
        concurrency = {"concurrency_id": "agent"} if fn in (chat, feedback) else {}
        gr.api(_clean_errors(fn), api_name=fn.__name__, **concurrency)
