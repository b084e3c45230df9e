"""Questions that pay off: asked when worth more than a list, never twice or about what was said, and answers
listing several values read as evidence for each (most for the movies that have them together)."""

from __future__ import annotations

import pytest

from crs_agent.agent import Recommender
from crs_agent.agent.questions import QuestionPolicy
from crs_agent.tools.evidence import answer_loglik, question_gain, with_evidence

EAGER = QuestionPolicy(min_gain=0.05)


@pytest.fixture
def rec(tiny_knowledge) -> Recommender:
    return Recommender(tiny_knowledge, top_k=2, questions=EAGER)


def test_the_gain_of_a_question_is_what_its_answer_would_add_to_the_list(tiny_knowledge):
    catalog = tiny_knowledge.catalog
    spread = [(i, 0.1) for i in ("1", "2", "4", "5", "6", "7")]  # nothing stands out: an answer decides
    assert question_gain(spread, catalog, "star", shown=2) == pytest.approx(4 / 6)
    sure = [("6", 0.9), *[(i, 0.001) for i in ("1", "2", "4", "5", "7")]]  # the list already holds it
    assert question_gain(sure, catalog, "star", shown=2) < 0.01
    # every Nolan film shares the director: asking about directors separates them no better than the list
    nolan = [(i, 0.1) for i in ("1", "2", "6", "7")]
    assert question_gain(nolan, catalog, "director", shown=2) == pytest.approx(0.0)


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


def test_no_question_twice_none_about_what_was_said_and_never_three_in_a_row(rec: Recommender):
    asked = []
    for message in ("I want something with Christopher Nolan", "no idea, sorry", "no preference", "anything"):
        reply = rec.chat(message, user_id="u", thread_id="t")
        asked.append(reply.asked)
    questions = [a for a in asked if a]
    assert len(questions) == len(set(questions)), f"asked twice: {asked}"
    assert "director" not in questions, "the user named the director"
    assert None in asked[:3], f"three questions in a row: {asked}"


def test_a_refined_turn_down_gets_a_filtered_list_not_a_question(rec: Recommender):
    rec.chat("Something like Inception (2010), with action", user_id="u", thread_id="t")
    refined = rec.chat("I've seen those already. Something older, from the 90s?", user_id="u", thread_id="t")
    assert not refined.question and refined.items
    assert all(1990 <= item.year <= 1999 for item in refined.items), [i.title for i in refined.items]
