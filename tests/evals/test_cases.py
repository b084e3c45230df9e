"""Case conversion from the three formats, the leak guard, and the bundled dev cases."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from crs_agent.evals.cases import (
    GENERIC_OPENING,
    Case,
    CaseFileError,
    cases_from_file,
    eval_data,
    write_cases,
)
from crs_agent.evals.leaks import TitleGuard
from crs_agent.evals.runner import select_cases


def _msg(sender: int, text: str) -> dict:
    return {"senderWorkerId": sender, "text": text}


def redial_dialogue(conversation: str = "1", **changes) -> dict:
    """A ReDial record over the tiny catalog: seeker 10, recommender 20."""
    seeker_liked = {"suggested": 0, "seen": 1, "liked": 1}
    record = {
        "conversationId": conversation,
        "initiatorWorkerId": 10,
        "respondentWorkerId": 20,
        "movieMentions": {"1": "Inception (2010)", "2": "Interstellar  (2014)", "6": "The Dark Knight (2008)"},
        "initiatorQuestions": {
            "1": seeker_liked,
            "2": {"suggested": 1, "seen": 0, "liked": 1},
            "6": {"suggested": 1, "seen": 1, "liked": 0},
        },
        "respondentQuestions": {},
        "messages": [
            _msg(20, "Hi! What do you like?"),
            _msg(10, "hello"),
            _msg(10, "I loved @1 and I heard @2 is good"),
            _msg(20, "Then watch @2 or @6"),
            _msg(10, "I did not like @6 but @2 sounds great"),
            _msg(20, "Enjoy @2!"),
        ],
    }
    return record | changes


def _jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_redial_targets_history_opening_and_skips(tmp_path: Path, tiny_knowledge):
    no_target = redial_dialogue("2", initiatorQuestions={"1": {"suggested": 0, "seen": 1, "liked": 1}})
    path = _jsonl(tmp_path / "redial.jsonl", [redial_dialogue(), no_target])
    conversion = cases_from_file(path, tiny_knowledge.catalog)
    assert conversion.format == "redial" and conversion.skipped == {"without a target": 1}
    (case,) = conversion.cases
    assert case.id == "redial-1" and case.targets == ["2"], "suggested and liked by the seeker"
    assert case.history == ["1"], "the disliked Dark Knight and the target stay out"
    assert case.opening == "hello I loved Inception (2010) and I heard is good", "target title removed"
    roles = [(u.role, u.scored) for u in case.dialogue]
    assert roles == [("recommender", False), ("seeker", False), ("recommender", True)] + [
        ("seeker", False),
        ("recommender", True),
    ]
    assert case.dialogue[2].items == ["2", "6"] and "Interstellar (2014)" in case.dialogue[2].text


def test_redial_falls_back_to_the_respondent_form_and_a_generic_opening(tmp_path: Path):
    record = redial_dialogue(
        initiatorQuestions={},
        respondentQuestions={"2": {"suggested": 1, "seen": 0, "liked": 1}},
        messages=[_msg(10, "@2"), _msg(20, "@2 then")],
    )
    conversion = cases_from_file(_jsonl(tmp_path / "r.jsonl", [record]))
    (case,) = conversion.cases
    assert case.targets == ["2"] and case.opening == GENERIC_OPENING and conversion.generic_openings == 1


def test_ievalm_turns_become_one_scored_case_each(tmp_path: Path, tiny_knowledge):
    row = {
        "dialog_id": "7",
        "turn_id": 3,
        "context": ["", "Hi, what do you like?", "I loved Inception (2010), something like Interstellar"],
        "entity": ["Inception (2010)", "Interstellar (2014)", "Eve"],
        "rec": ["Interstellar (2014)"],
        "resp": "Try Interstellar (2014)",
    }
    missing = row | {"rec": ["Not A Movie (1999)"]}
    conversion = cases_from_file(_jsonl(tmp_path / "turns.jsonl", [row, missing]), tiny_knowledge.catalog)
    (case,) = conversion.cases
    assert conversion.format == "ievalm" and sum(conversion.skipped.values()) == 1
    assert case.id == "ievalm-7-3" and case.targets == ["2"] and case.history == ["1"]
    assert case.opening == "I loved Inception (2010), something like"
    # the seeker at even positions, the recommender at odd ones; the empty string is skipped, not a turn
    assert [u.role for u in case.dialogue] == ["recommender", "seeker", "recommender"]
    assert [u.scored for u in case.dialogue] == [False, False, True] and all(u.text for u in case.dialogue)
    with pytest.raises(CaseFileError, match="catalog"):
        cases_from_file(tmp_path / "turns.jsonl")


def test_own_cases_round_trip_and_drop_unknown_targets(tmp_path: Path, tiny_knowledge):
    cases = [
        Case(id="a", opening="Something by Nolan", history=["1"], targets=["2", "999"]),
        Case(id="b", opening="hi", targets=["999"]),
    ]
    path = tmp_path / "cases.jsonl"
    assert write_cases(cases, path) == 2
    conversion = cases_from_file(path, tiny_knowledge.catalog)
    assert [c.id for c in conversion.cases] == ["a"] and conversion.cases[0].targets == ["2"]
    assert conversion.skipped == {"with no target in the catalog": 1}


@pytest.mark.parametrize(
    ("content", "message"),
    [("not json\n", "not JSON"), ('{"foo": 1}\n', "Unknown case format"), ("", "holds no cases")],
)
def test_unreadable_case_files_say_what_is_accepted(tmp_path: Path, content: str, message: str):
    path = tmp_path / "bad.jsonl"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(CaseFileError, match=message):
        cases_from_file(path)
    with pytest.raises(CaseFileError, match="No case file"):
        cases_from_file(tmp_path / "absent.jsonl")


def test_bundled_dev_cases_are_the_conversion_of_the_bundled_dev_dialogues():
    bundled = cases_from_file(eval_data("dev_cases.jsonl"))
    converted = cases_from_file(eval_data("redial_test_dev.jsonl"))
    assert bundled.format == "cases" and converted.skipped == {"without a target": 69}
    assert [c.model_dump() for c in bundled.cases] == [c.model_dump() for c in converted.cases]
    assert len(bundled.cases) == 931
    for case in bundled.cases:
        assert not set(case.targets) & set(case.history)


def test_a_smaller_limit_draws_a_subset_of_a_larger_one():
    cases = [Case(id=str(n), opening="hi", targets=["1"]) for n in range(50)]
    small, large = select_cases(cases, 5, seed=3), select_cases(cases, 20, seed=3)
    assert {c.id for c in small} < {c.id for c in large}
    assert [int(c.id) for c in large] == sorted(int(c.id) for c in large)
    assert select_cases(cases, 5, seed=4) != small and select_cases(cases, None, 0) == cases


@pytest.mark.parametrize(
    ("text", "leaks"),
    [
        ("I loved The Dark Knight so much", True),
        ("the dark knigth was great", True),  # a typo
        ("dark knight rises", True),
        ("what's up tonight", False),  # a one-word title needs its capital
        ("Up was lovely", True),
        ("I liked Toy Story 3", False),  # a sequel is another movie
        ("toy story 2!", True),
        ("a knight in the dark", False),
    ],
)
def test_title_guard_finds_titles_in_text(text: str, leaks: bool):
    guard = TitleGuard(["The Dark Knight", "Up", "Toy Story 2"])
    assert guard.leaks(text) is leaks
    assert not guard.leaks(guard.redact(text))


def test_redaction_replaces_the_whole_title_with_its_article():
    guard = TitleGuard(["The Dark Knight"])
    assert guard.redact("I loved The Dark Knight so much") == "I loved that movie so much"
    assert guard.redact("The Dark Knight, please", "") == ", please"
