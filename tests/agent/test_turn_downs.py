"""A list the user does not take is turned down: never shown again, whatever words they turn it down with.

The phrasings are written for this test (none comes from a simulator or an evaluation protocol), several of
each kind. The reading that decides acceptance is the learned one, so these run with the real MiniLM
embedder on the tiny catalog.
"""

from __future__ import annotations

import pytest

from crs_agent.agent import Recommender
from crs_agent.agent.questions import QuestionPolicy

TURN_DOWNS = {
    "plain dislike": [
        "I don't like any of these.",
        "Nope, not into those.",
        "These don't appeal to me at all.",
        "I'm not a fan of those picks.",
    ],
    "already seen": [
        "Seen them all already.",
        "I've watched every one of those.",
        "Already saw those, sorry.",
        "I have seen all three of them.",
    ],
    "boredom": [
        "Those sound boring.",
        "Meh, kind of dull.",
        "Yawn. Something more exciting?",
        "Those look a bit tired to me.",
    ],
    "one word": ["Nah.", "No.", "Meh.", "Pass.", "Nope"],
    "polite refusal": [
        "Thanks, but none of those are for me.",
        "Not really, thank you.",
        "I appreciate it, but I'll pass on those.",
        "Those are nice, but not what I'm after.",
    ],
}
ACCEPTS = [
    "Perfect, I'll watch the first one tonight!",
    "Ooh, that sounds great, thanks!",
    pytest.param("Yes, that one!", marks=pytest.mark.xfail(strict=True, reason="the learned reading says seen")),
]
PHRASES = [(kind, text) for kind, texts in TURN_DOWNS.items() for text in texts]


@pytest.fixture(scope="module")
def rec(minilm_tiny_knowledge) -> Recommender:
    # lists only: this is about what a turn-down does to the next list, not about asking
    return Recommender(minilm_tiny_knowledge, top_k=2, questions=QuestionPolicy(min_gain=2.0))


@pytest.mark.slow
@pytest.mark.real_model
@pytest.mark.parametrize(("kind", "text"), PHRASES, ids=[f"{k}: {t}" for k, t in PHRASES])
def test_a_turned_down_list_is_never_shown_again(rec: Recommender, kind: str, text: str):
    thread = f"{kind}-{text}"
    first = rec.chat("Something like Inception (2010), with action", user_id="u", thread_id=thread)
    shown = {item.id for item in first.items}
    assert len(shown) == 2
    again = rec.chat(text, user_id="u", thread_id=thread)
    assert again.trace.intent != "accept", f"{text!r} was read as taking the list"
    assert shown.isdisjoint(item.id for item in again.items) and shown.isdisjoint(again.trace.ranked)
    assert shown <= set(rec.profile("u", thread).rejected_ids)


@pytest.mark.slow
@pytest.mark.real_model
@pytest.mark.parametrize("text", ACCEPTS)
def test_taking_a_list_is_not_a_turn_down(rec: Recommender, text: str):
    thread = f"accept-{text}"
    first = rec.chat("Something like Inception (2010), with action", user_id="u", thread_id=thread)
    again = rec.chat(text, user_id="u", thread_id=thread)
    assert again.trace.intent == "accept"
    assert first.items[0].id in rec.profile("u", thread).liked_ids
    assert not set(rec.profile("u", thread).rejected_ids) & {i.id for i in first.items}
