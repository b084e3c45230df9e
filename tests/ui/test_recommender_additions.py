"""The two ``Recommender`` methods the web chat needs: ``forget`` (profile corrections) and ``last_reply``."""

from __future__ import annotations

import pytest

from crs_agent.agent import Recommender


@pytest.fixture
def rec(tiny_knowledge) -> Recommender:
    return Recommender(tiny_knowledge)


def _memory(rec: Recommender, user_id: str) -> list[tuple[str, str]]:
    return [(r.kind, r.text) for r in rec.knowledge.memory.all(user_id)]


def test_forget_a_liked_item_drops_it_from_memory_and_the_thread_only_for_that_user(rec: Recommender):
    rec.chat("I loved Inception (2010), no horror", user_id="ana", thread_id="t")
    rec.chat("I loved Inception (2010)", user_id="bob", thread_id="t")
    rec.feedback("ana", "1", liked=True, thread_id="t")
    profile = rec.forget("ana", "liked_ids", "1", thread_id="t")
    assert profile.liked_ids == [] and rec.profile("ana", "t").liked_ids == []
    assert profile.exclude_genres == ["horror"], "only the named entry goes"
    assert _memory(rec, "ana") == [("preference", "does not want horror")]
    assert ("preference", "likes Inception (2010)") in _memory(rec, "bob")
    assert rec.profile("bob", "t").liked_ids == ["1"]
    assert rec.chat("any ideas?", user_id="ana", thread_id="new") and rec.profile("ana", "new").liked_ids == []


def test_forget_keeps_a_dislike_when_a_like_is_taken_back(rec: Recommender):
    rec.feedback("ana", "3", liked=False)
    rec.forget("ana", "liked_ids", "3")
    assert _memory(rec, "ana") == [("feedback", "disliked The Shining (1980)")]
    rec.forget("ana", "disliked_ids", "3")
    assert _memory(rec, "ana") == []


def test_forget_years_and_wishes_touch_only_the_thread(rec: Recommender):
    rec.chat("something from the 90s with explosions", user_id="ana", thread_id="t")
    before = rec.profile("ana", "t")
    assert (before.year_min, before.year_max) == (1990, 1999) and before.wishes
    rec.forget("ana", "years", thread_id="t")
    after = rec.forget("ana", "wishes", before.wishes[0], thread_id="t")
    assert (after.year_min, after.year_max) == (None, None) and after.wishes == []
    assert rec.profile("ana", "t") == after


def test_forget_does_not_create_threads_and_checks_the_field(rec: Recommender):
    assert rec.forget("ana", "genres", "sci-fi", thread_id="none-yet").genres == []
    assert rec.threads("ana") == []
    with pytest.raises(ValueError, match="unknown profile field"):
        rec.forget("ana", "password", "x")  # type: ignore[arg-type]


def test_last_reply_reopens_items_and_trace(rec: Recommender):
    assert rec.last_reply("ana", "t") is None
    reply = rec.chat("I loved Inception (2010)", user_id="ana", thread_id="t")
    again = rec.last_reply("ana", "t")
    assert again.items == reply.items and again.trace == reply.trace and again.text == reply.text
    assert rec.last_reply("bob", "t") is None
