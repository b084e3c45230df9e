"""The targets' mix by ReDial's labels: new, named before and seen, named before and not seen."""

from __future__ import annotations

import json

import pytest

from crs_agent.evals.cases import Case, Utterance, eval_data, redial_dialogue_id
from crs_agent.evals.target_mix import dialogue_labels, main, mix, table


def _case(dialogue: str, turn: int, utterances: list[Utterance]) -> Case:
    return Case(id=f"ievalm-{dialogue}-{turn}", opening="hi", targets=["x"], dialogue=utterances)


def test_each_target_is_new_seen_or_another_repeat():
    case = _case(
        "7",
        3,
        [
            Utterance(role="seeker", text="I loved A and want to see B", items=["a", "b"]),
            Utterance(role="recommender", text="Try C", items=["c"]),
            Utterance(role="seeker", text="ok", items=[]),
            Utterance(role="recommender", text="A is great, B, C, D too", items=["a", "b", "c", "d"], scored=True),
        ],
    )
    labels = {"7": {"a": {"seen": 1, "liked": 1}, "b": {"seen": 0, "liked": 1}, "c": {"seen": 2}}}
    assert redial_dialogue_id(case.id) == "7"
    counts = mix([case], labels)
    assert dict(counts) == {"new": 1, "seen": 1, "other repeat": 2}  # d new; a seen; b (not seen), c (unsure)
    # without labels nothing counts as seen: only the seeker's own answer puts a target out of reach
    assert dict(mix([case], {})) == {"new": 1, "seen": 0, "other repeat": 3}
    assert "| t | 4 | 1 (0.250) | 1 (0.250) | 2 (0.500) | 0.750 |" in table([("t", counts)])


def test_an_unscored_recommender_turn_names_movies_but_has_no_targets():
    case = _case(
        "8",
        2,
        [
            Utterance(role="seeker", text="hi", items=[]),
            Utterance(role="recommender", text="Seen E?", items=["e"]),
            Utterance(role="recommender", text="Then E and F", items=["e", "f"], scored=True),
        ],
    )
    assert dict(mix([case], {"8": {"e": {"seen": 1}}})) == {"new": 1, "seen": 1, "other repeat": 0}


def test_labels_fall_back_to_the_recommenders_answers(tmp_path):
    path = tmp_path / "d.jsonl"
    rows = [
        {"conversationId": 1, "initiatorQuestions": {"a": {"seen": 1}}, "respondentQuestions": {"a": {"seen": 0}}},
        {"conversationId": "2", "initiatorQuestions": [], "respondentQuestions": {"b": {"seen": 1}}},
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    assert dialogue_labels(path) == {"1": {"a": {"seen": 1}}, "2": {"b": {"seen": 1}}}


def test_the_bundled_test_turns_hold_more_seen_repeats_than_validation(capsys):
    main([])
    out = capsys.readouterr().out
    rows = {line.split(" | ")[0].strip("| "): line for line in out.splitlines() if ".jsonl" in line}
    assert set(rows) == {"valid_turns.jsonl", "test_dev_turns.jsonl"}
    share = {name: float(line.split(" | ")[3].split("(")[1].rstrip(")")) for name, line in rows.items()}
    assert 0.0 < share["valid_turns.jsonl"] < share["test_dev_turns.jsonl"] < 0.2
    assert dialogue_labels(eval_data("redial_test_dev.jsonl"))  # every turn file's dialogues are bundled


def test_a_dialogue_file_is_needed_for_each_case_file(tmp_path):
    with pytest.raises(SystemExit):
        main(["--cases", str(eval_data("valid_turns.jsonl"))])
