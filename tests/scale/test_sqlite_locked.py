"""A conversations.sqlite that another process keeps locked: a typed error after the busy timeout, state intact."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from crs_agent.agent import Recommender
from crs_agent.agent.persistence import make_checkpointer
from crs_agent.knowledge.errors import ConversationStoreBusyError

# Another process opens the file, takes an exclusive lock, says so, and holds it until its stdin closes.
_HOLDER = textwrap.dedent(
    """
    import sqlite3, sys
    connection = sqlite3.connect(sys.argv[1], isolation_level=None)
    connection.execute("BEGIN EXCLUSIVE")
    print("locked", flush=True)
    sys.stdin.read()
    connection.execute("ROLLBACK")
    print("released", flush=True)
    """
)


@contextmanager
def _locked_by_another_process(path: Path) -> Iterator[None]:
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        yield
    finally:
        out, _ = holder.communicate("", timeout=30)
    assert holder.returncode == 0 and out.strip() == "released"


@pytest.fixture
def rec(tiny_knowledge) -> Recommender:
    checkpointer = make_checkpointer(tiny_knowledge.settings, busy_timeout=0.5)
    return Recommender(tiny_knowledge, None, checkpointer=checkpointer)


def _snapshot(rec: Recommender, user: str, thread: str) -> tuple[object, ...]:
    """What the checkpointer holds for the thread. (The user's Chroma memory is another store: a turn is saved
    when it ends, so a turn refused by a locked file may already have remembered what the user said.)"""
    return rec.history(user, thread), rec.profile(user, thread), rec.threads(user)


@pytest.mark.parametrize("how", ["chat", "stream"])
def test_a_turn_on_a_locked_store_fails_clearly_and_changes_nothing(rec: Recommender, how: str) -> None:
    rec.chat("I loved Inception", user_id="ana", thread_id="t1")
    before = _snapshot(rec, "ana", "t1")
    assert len(before[0]) == 2 and before[2] == ["t1"]
    path = rec.knowledge.settings.data_dir / "conversations.sqlite"
    with _locked_by_another_process(path):
        with pytest.raises(ConversationStoreBusyError) as caught:
            if how == "chat":
                rec.chat("no horror please", user_id="ana", thread_id="t1")
            else:
                list(rec.stream("no horror please", user_id="ana", thread_id="t1"))
    message = str(caught.value)
    assert str(path) in message and "0.5 s" in message and "Try again" in message
    assert _snapshot(rec, "ana", "t1") == before
    reply = rec.chat("no horror please", user_id="ana", thread_id="t1")  # the same store works once released
    assert reply.text and "horror" in rec.profile("ana", "t1").exclude_genres
    assert len(rec.history("ana", "t1")) == 4


def test_a_new_thread_on_a_locked_store_leaves_no_trace(rec: Recommender) -> None:
    rec.chat("I loved Inception", user_id="ana", thread_id="t1")  # creates the file and its tables
    with _locked_by_another_process(rec.knowledge.settings.data_dir / "conversations.sqlite"):
        with pytest.raises(ConversationStoreBusyError):
            rec.chat("something funny", user_id="ana", thread_id="t2")
    assert rec.threads("ana") == ["t1"] and rec.history("ana", "t2") == []
