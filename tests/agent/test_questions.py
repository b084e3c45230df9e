"""Questions that pay off: asked when worth more than a list, never twice or about what was said, and answers
listing several values read as evidence for each (most for the movies that have them together)."""

from __future__ import annotations

import pytest

from crs_agent.agent import Recommender
from crs_agent.agent.questions import QuestionPolicy, named_for, question_text
from crs_agent.tools.context import LastReply
from crs_agent.tools.evidence import answer_loglik, pinned_share, question_gain, with_evidence

EAGER = QuestionPolicy(min_gain=0.05)


@pytest.fixture
def rec(tiny_knowledge) -> Recommender:
    return Recommender(tiny_knowledge, top_k=2, questions=EAGER)


def test_the_gain_of_a_question_is_what_its_answer_would_add_to_the_list(tiny_knowledge):
    catalog = tiny_knowledge.catalog
    spread = [(i, 0.1) for i in ("1", "2", "4", "5", "6", "7")]  # nothing stands out: an answer decides
    assert pinned_share(catalog, "star", 2) == 1.0, "every cast here is shared by at most two movies"
    # from 0.2 to 0.6 in the list, and the 0.4 of chance outside the ranking is found by the answer too
    assert question_gain(spread, catalog, "star", shown=2) == pytest.approx(0.4 + 0.4)
    assert question_gain(spread, catalog, "star", shown=2, beyond=False) == pytest.approx(0.4)
    assert pinned_share(catalog, "decade", 2) < 1.0, "three movies from the 2010s"
    sure = [("6", 0.99), *[(i, 0.002) for i in ("1", "2", "4", "5", "7")]]  # the list holds it, surely
    assert question_gain(sure, catalog, "star", shown=2) < 0.01
    # every Nolan film shares the director: asking about directors separates them no better than the list
    nolan = [(i, 0.1) for i in ("1", "2", "6", "7")]
    assert question_gain(nolan, catalog, "director", shown=2, beyond=False) == pytest.approx(0.0)


def test_an_answer_with_several_values_is_evidence_for_each_and_most_for_all_together(tiny_knowledge):
    catalog = tiny_knowledge.catalog
    scored = [("7", 0.5), ("1", 0.4), ("6", 0.1)]  # Batman Begins first before the answer
    after = with_evidence(scored, catalog, {"star": ["Christian Bale", "Heath Ledger"]})
    assert [i for i, _ in after] == ["6", "7", "1"], "both named stars beat one, which beats none"
    assert after[0][1] == 0.1, "an item with every value keeps its calibrated score"
    loglik = answer_loglik([catalog["6"], catalog["7"]], {"star": [], "decade": ["2000s"]})
    assert list(loglik) == [0.0, 0.0], "no value given, or a period (a filter already), is no evidence"


def test_a_question_comes_when_worth_more_and_its_answer_is_used(rec: Recommender):
    first = rec.chat("I want something with Christopher Nolan", user_id="u", thread_id="t")
    assert first.question and first.asked == "star", "the director is known; the cast splits his films"
    assert first.trace.ranked, "a question comes with the ranking it was chosen over"
    answer = rec.chat("Christian Bale, Heath Ledger", user_id="u", thread_id="t")
    assert not answer.question and answer.items[0].id == "6", "The Dark Knight has both"
    assert rec.profile("u", "t").answers == {"star": ["Christian Bale", "Heath Ledger"]}


def test_no_question_twice_none_about_what_was_answered_and_never_three_in_a_row(rec: Recommender):
    replies = [
        rec.chat(message, user_id="u", thread_id="t")
        for message in ("I want something with Christopher Nolan", "no idea, sorry", "no preference", "anything")
    ]
    asked = [reply.asked for reply in replies]
    questions = [a for a in asked if a]
    assert len(questions) == len(set(questions)), f"asked twice: {asked}"
    assert None in asked[:3], f"three questions in a row: {asked}"
    about_directors = [r.text for r in replies if r.asked == "director"]
    assert all(text.startswith("Besides Christopher Nolan") for text in about_directors), "he was named already"
    profile = rec.profile("u", "t")
    assert question_text("director", named_for(profile, "director", rec.knowledge.kg)).startswith(
        "Besides Christopher Nolan"
    )


@pytest.mark.parametrize("reply", ["no idea, sorry", "meh", "Something older, from the 90s?"])
def test_a_reply_that_gives_nothing_asked_for_brings_a_list_not_another_question(rec: Recommender, reply: str):
    first = rec.chat("I want something with Christopher Nolan", user_id="u", thread_id="t")
    assert first.question, "the cast splits his films: worth asking"
    then = rec.chat(reply, user_id="u", thread_id="t")
    assert not then.question and then.items, f"{reply!r} answered no question: show the list ({then.text!r})"


def test_two_questions_in_a_row_when_the_first_was_answered(rec: Recommender):
    rec.chat("I want something with Christopher Nolan", user_id="u", thread_id="t")
    profile = rec.profile("u", "t")
    profile.answers = {"star": ["Christian Bale"]}
    last = LastReply(item_ids=[], question=True, asked="star")
    scored = [(i, 0.1) for i in ("1", "2", "4", "5", "6", "7")]
    k = rec.knowledge
    assert EAGER.choose(profile, scored, k.catalog, k.kg, 2, last, False) is not None, "answered: may ask on"
    profile.answers = {"star": []}
    assert EAGER.choose(profile, scored, k.catalog, k.kg, 2, last, False) is None, "no values: no new question"


def test_a_question_the_seeker_never_heard_may_still_be_asked(rec: Recommender):
    """A replayed dialogue: a human recommender's turn replaces the agent's question, never put to the seeker."""
    first = rec.chat("I want something with Christopher Nolan", user_id="u", thread_id="t")
    assert first.question and first.asked in rec.profile("u", "t").asked
    rec.record_reply("u", "t", "Have you seen Inception?", ["1"], replaces_last=True)
    assert first.asked not in rec.profile("u", "t").asked
    rec.record_reply("u", "t", "Or Interstellar?", ["2"], replaces_last=True)  # a heard turn replaced: no change
    assert rec.profile("u", "t").suggested_ids[-2:] == ["1", "2"]


def test_a_refined_turn_down_gets_a_filtered_list_not_a_question(rec: Recommender):
    rec.chat("Something like Inception (2010), with action", user_id="u", thread_id="t")
    refined = rec.chat("I've seen those already. Something older, from the 90s?", user_id="u", thread_id="t")
    assert not refined.question and refined.items
    assert all(1990 <= item.year <= 1999 for item in refined.items), [i.title for i in refined.items]
