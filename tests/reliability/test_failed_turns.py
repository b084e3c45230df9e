"""A turn that raises, or a stream abandoned mid-turn, leaves the conversation exactly as it was."""

from __future__ import annotations

import sqlite3

import pytest
from langgraph.checkpoint.sqlite import SqliteSaver

import crs_agent.agent.respond as respond_module
from crs_agent.agent import Recommender


@pytest.fixture
def rec(tiny_knowledge, tmp_path):
    saver = SqliteSaver(sqlite3.connect(tmp_path / "c.sqlite", check_same_thread=False))
    return Recommender(tiny_knowledge, checkpointer=saver)


def _break_respond(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(*args: object, **kwargs: object) -> str:
        raise RuntimeError("a bug in the answer step")

    monkeypatch.setattr(respond_module, "_render", fail)


def test_a_turn_that_raises_leaves_the_thread_as_it_was(rec, monkeypatch):
    rec.chat("I loved Inception, no horror", user_id="u", thread_id="t")
    history, profile = rec.history("u", "t"), rec.profile("u", "t")
    with monkeypatch.context() as patch:
        _break_respond(patch)
        with pytest.raises(RuntimeError, match="a bug"):
            rec.chat("I also loved The Matrix", user_id="u", thread_id="t")
    assert rec.history("u", "t") == history  # no message without its answer
    assert rec.profile("u", "t") == profile  # and nothing the failed turn understood
    assert rec.graph.get_state(rec._config("u", "t")).next == ()
    after = rec.chat("something else", user_id="u", thread_id="t")
    assert [role for role, _ in rec.history("u", "t")] == ["human", "ai"] * 2 and (after.items or after.asked)


def test_a_first_turn_that_raises_leaves_no_thread(rec, monkeypatch):
    _break_respond(monkeypatch)
    with pytest.raises(RuntimeError):
        rec.chat("I loved Inception", user_id="u", thread_id="new")
    assert rec.threads("u") == [] and rec.history("u", "new") == []


def test_an_abandoned_stream_stores_nothing_of_its_turn(rec):
    rec.chat("I loved Inception", user_id="u", thread_id="t")
    history = rec.history("u", "t")
    events = rec.stream("something older please", user_id="u", thread_id="t")
    next(event for event in events if event.kind == "trace")  # the client goes away mid-turn
    events.close()
    assert rec.history("u", "t") == history
    rec.chat("something funny", user_id="u", thread_id="t")
    assert [role for role, _ in rec.history("u", "t")] == ["human", "ai"] * 2
