"""The web chat's callbacks without a browser: identity, streaming turns, votes, corrections, threads, errors."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from crs_agent.agent import Recommender, StreamEvent
from crs_agent.knowledge import IndexMissingError
from crs_agent.ui.callbacks import ChatCallbacks, View, check_user_id
from tests.agent.fakes import ScriptedChatModel

ASK = "I loved Inception (2010). Something in space, but no horror"


@pytest.fixture
def rec(tiny_knowledge) -> Recommender:
    return Recommender(tiny_knowledge)


@pytest.fixture
def ui(rec: Recommender, tiny_settings) -> ChatCallbacks:
    return ChatCallbacks(rec, tiny_settings)


def _turn(ui: ChatCallbacks, message: str, user_id: str, thread_id: str) -> list[View]:
    return list(ui.send(message, user_id, thread_id))


def test_a_new_browser_gets_its_own_anonymous_user_and_a_fresh_conversation(ui: ChatCallbacks):
    first, second = ui.start(None), ui.start({})
    assert first.user_id.startswith("browser-") and second.user_id.startswith("browser-")
    assert first.user_id != second.user_id and first.stored["anon"] == first.user_id
    assert first.messages == [] and first.items == [] and first.threads == []
    assert first.stored["thread"] == first.thread_id and "anonymously" in first.who


def test_a_reload_reopens_the_browser_users_conversation(ui: ChatCallbacks):
    start = ui.start(None)
    _turn(ui, ASK, start.user_id, start.thread_id)
    again = ui.start(start.stored)
    assert (again.user_id, again.thread_id) == (start.user_id, start.thread_id)
    assert [m["role"] for m in again.messages] == ["user", "assistant"] and len(again.items) == 3
    assert again.threads == [("I loved Inception (2010). Something in space, b…", start.thread_id)]


def test_a_turn_streams_then_shows_cards_trace_profile_and_the_thread(ui: ChatCallbacks, rec: Recommender):
    views = _turn(ui, ASK, "ana", "t1")
    first, final = views[0], views[-1]
    assert first.message_box == "" and first.messages[-2] == {"role": "user", "content": ASK}
    assert first.messages[-1]["content"] == "_Reading your message…_"
    answer = final.messages[-1]["content"]
    assert answer == rec.history("ana", "t1")[-1][1]
    partial = [v.messages[-1]["content"] for v in views[1:-1]]
    assert any(answer.startswith(p) and p != answer for p in partial if not p.startswith("_")), "no token streamed"
    assert any(p == "_Searching the catalog…_" for p in partial)
    assert [i["id"] for i in final.items] == [i.id for i in rec.last_reply("ana", "t1").items]
    assert all("horror" not in i["genres"] for i in final.items)
    assert "**Path 1 · describe**" in final.trace and "generate_candidates(" in final.trace
    assert "Reflection 1** (rules): ✅ pass" in final.trace
    assert "**You like:** Inception (2010)" in final.profile and "**You don't want:** horror" in final.profile
    assert ("🚫 horror", "exclude_genres=horror") in final.corrections
    assert final.threads == [("I loved Inception (2010). Something in space, b…", "t1")]


def test_an_empty_message_does_nothing_and_an_early_one_is_refused(ui: ChatCallbacks, rec: Recommender):
    empty = _turn(ui, "   ", "ana", "t1")
    assert len(empty) == 1 and empty[0].notice.startswith("Your message is empty") and empty[0].messages is None
    assert rec.threads("ana") == []
    early = _turn(ui, ASK, "", "")  # sent before the page's load event gave the browser a user
    assert len(early) == 1 and early[0].notice.startswith("The page is still loading") and early[0].messages is None


def test_a_vote_is_remembered_shown_and_can_be_flipped(ui: ChatCallbacks, rec: Recommender):
    item = _turn(ui, ASK, "ana", "t1")[-1].items[0]
    liked = ui.vote(item["id"], True, "ana", "t1")
    assert liked.marks == {"1": True, item["id"]: True} and liked.notice.startswith("Noted: you liked")
    assert item["title"] in liked.profile
    disliked = ui.vote(item["id"], False, "ana", "t1")
    assert disliked.marks[item["id"]] is False and "is not for you" in disliked.notice
    assert item["id"] in rec.profile("ana", "t1").disliked_ids
    assert item["id"] not in rec.profile("ana", "t1").liked_ids


def test_forgetting_a_profile_entry_holds_in_new_conversations(ui: ChatCallbacks, rec: Recommender):
    _turn(ui, ASK, "ana", "t1")
    view = ui.forget(["exclude_genres=horror", "liked_ids=1"], "ana", "t1")
    assert view.notice == "Forgot 2 profile entries."
    assert "You don't want" not in view.profile and "You like" not in view.profile
    assert rec.profile("ana", "t1").exclude_genres == [] and rec.profile("ana", "t1").liked_ids == []
    fresh = _turn(ui, "any ideas?", "ana", "t2")[-1]
    profile = rec.profile("ana", "t2")
    assert profile.exclude_genres == [] and profile.liked_ids == [], "memory brought a forgotten entry back"
    assert "🚫 horror" not in dict(fresh.corrections)


def test_new_conversation_then_reopening_the_old_one(ui: ChatCallbacks):
    start = ui.start({"anon": "browser-x"})
    old = _turn(ui, ASK, start.user_id, start.thread_id)[-1]
    new = ui.new_conversation(start.stored, start.user_id)
    assert new.thread_id != start.thread_id and new.stored["thread"] == new.thread_id
    assert new.messages == [] and new.items == [] and "Nothing yet" in new.trace
    back = ui.open_conversation(start.thread_id, new.stored, start.user_id)
    assert back.stored["thread"] == start.thread_id and back.messages == old.messages
    assert back.items == old.items and back.trace == old.trace


def test_nobody_opens_another_users_conversation(ui: ChatCallbacks):
    _turn(ui, ASK, "ana", "secret")
    view = ui.open_conversation("secret", {"anon": "browser-bob"}, "browser-bob")
    assert view.notice == "That conversation is not one of yours."
    assert view.messages is None and view.stored is None and view.threads is None
    assert ui.start({"anon": "browser-bob", "thread": "secret"}).messages == []


def test_a_name_switches_user_and_a_bad_name_changes_nothing(ui: ChatCallbacks):
    _turn(ui, ASK, "ana", "t1")
    start = ui.start(None)
    named = ui.switch_user("  ana ", start.stored)
    assert named.user_id == "ana" and named.thread_id == "t1" and len(named.items) == 3
    assert "**ana**" in named.who and named.stored["anon"] == start.stored["anon"]
    assert ui.switch_user("", named.stored).user_id == start.user_id
    bad = ui.switch_user("bob::t1", start.stored)
    assert bad.user_id is None and bad.notice.startswith("A name is")


def test_an_llm_failure_falls_back_to_the_rules_backend(tiny_knowledge, tiny_settings, monkeypatch):
    rec = Recommender(tiny_knowledge, ScriptedChatModel([]))  # never called: its stream fails first

    def failing_stream(message: str, user_id: str, thread_id: str) -> Iterator[StreamEvent]:
        yield StreamEvent(kind="trace", node="understand")
        raise httpx.ConnectError("connection refused")

    monkeypatch.setattr(rec, "stream", failing_stream)
    ui = ChatCallbacks(rec, tiny_settings)
    final = _turn(ui, ASK, "ana", "t1")[-1]
    answer = final.messages[-1]["content"]
    assert answer.startswith("_⚠️ The language model failed (ConnectError); this answer comes from the rules backend._")
    assert len(final.items) == 3 and "Inception" in answer.split("\n")[-1]
    reply = ui.answer("something else", "ana", "t1")
    assert reply.notices[0].startswith("The language model failed (ConnectError)") and reply.items


def test_an_llm_that_fails_on_every_call_still_gets_an_answer(tiny_knowledge, tiny_settings):
    class DownServer(ScriptedChatModel):
        def _generate(self, *args, **kwargs):
            raise httpx.ConnectError("connection refused")

    ui = ChatCallbacks(Recommender(tiny_knowledge, DownServer([])), tiny_settings)
    final = _turn(ui, ASK, "ana", "t1")[-1]
    assert "language model failed" in final.messages[-1]["content"] and len(final.items) == 3


def test_our_errors_become_one_line_in_the_chat(ui: ChatCallbacks, rec: Recommender, monkeypatch, tmp_path):
    def broken(*args, **kwargs):
        raise IndexMissingError(tmp_path / "index")
        yield  # a generator, like the real one

    monkeypatch.setattr(rec, "stream", broken)
    views = _turn(ui, ASK, "ana", "t1")
    assert views[-1].messages[-1]["content"] == f'⚠️ No index at {tmp_path / "index"}. Run "crs-agent index" first.'


@pytest.mark.parametrize("bad", ["", "  ", "a::b", "x" * 81])
def test_user_ids_that_would_break_thread_namespacing_are_refused(bad: str):
    with pytest.raises(ValueError, match="user_id"):
        check_user_id(bad)
