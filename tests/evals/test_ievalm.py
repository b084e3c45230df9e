"""iEvaLM's attribute-based protocol: the seeker's exact strings, answers from the targets' facts, the rounds."""

from __future__ import annotations

import json
from pathlib import Path

from crs_agent.evals.cases import Case, Utterance
from crs_agent.evals.ievalm import ACCEPTED, NO_INFORMATION, REJECTED, IevalmSeeker, run_ievalm
from crs_agent.evals.metrics import summarize
from crs_agent.evals.runner import EvalConfig, run_eval
from crs_agent.evals.transcripts import Transcript, Turn

CONTEXT = [
    Utterance(role="seeker", text="Hi there!"),
    Utterance(role="recommender", text="Hello! What do you like?"),
    Utterance(role="seeker", text="I loved Inception (2010), any ideas?", items=["1"]),
]
# Interstellar and The Dark Knight: both by Christopher Nolan
CASE = Case(
    id="c",
    opening="Hi there!",
    targets=["2", "6"],
    dialogue=[
        *CONTEXT,
        Utterance(role="recommender", text="Interstellar or The Dark Knight", items=["2", "6"], scored=True),
    ],
)


class ScriptedSession:
    """A system that plays a fixed script of turns and records every message and heard reply."""

    def __init__(self, script: list[Turn]) -> None:
        self.script, self.messages, self.heard = list(script), [], []

    def know(self, history: list[str]) -> None:
        raise AssertionError("iEvaLM's protocol is a cold start: the system is told no history")

    def respond(self, message: str) -> Turn:
        self.messages.append(message)
        return self.script.pop(0).model_copy() if self.script else Turn(user=message, ranked=[])

    def hear(self, text: str, item_ids: list[str]) -> None:
        self.heard.append((text, item_ids))

    def close(self) -> None:
        return None


def _ask(kind: str) -> Turn:
    return Turn(user="", reply="A question", question=True, asked=kind)


def test_a_scripted_system_gets_exactly_the_targets_values_then_the_ievalm_strings(tiny_knowledge):
    warmup = Turn(user="", ranked=["5"])  # the system's answer to the first context turn: never judged
    script = [warmup, _ask("genre"), _ask("director"), _ask("decade"), Turn(user="", ranked=["3", "4"]), Turn(user="")]
    session = ScriptedSession(script)
    turns = run_ievalm(CASE, session, tiny_knowledge.catalog)
    assert session.heard == [("Hello! What do you like?", [])]
    assert session.messages == [
        "Hi there!",
        "I loved Inception (2010), any ideas?",
        "sci-fi, drama, adventure, action, crime",  # the set of both targets' genres, each once
        "Christopher Nolan",
        NO_INFORMATION,  # asked about something iEvaLM's seeker does not answer
        REJECTED,
    ]
    assert len(turns) == 5 and not any(t.accepted for t in turns), "five rounds, no success"


def test_a_list_holding_a_target_in_its_top_50_ends_the_dialogue(tiny_knowledge):
    filler = [str(n) for n in range(100, 149)]  # 49 ids before the target: rank 50 still counts
    session = ScriptedSession([Turn(user="", ranked=["3"]), Turn(user="", ranked=[*filler, "6"]), _ask("star")])
    case = CASE.model_copy(update={"dialogue": [CONTEXT[-1], CASE.dialogue[-1]]})
    turns = run_ievalm(case, session, tiny_knowledge.catalog)
    assert session.messages == ["I loved Inception (2010), any ideas?", REJECTED]
    assert turns[-1].accepted and len(turns) == 2
    assert IevalmSeeker(["6"], tiny_knowledge.catalog).judge([*filler, "6"]) == ACCEPTED
    assert IevalmSeeker(["6"], tiny_knowledge.catalog).judge([*filler, "0", "6"]) == REJECTED, "rank 51 does not"


def test_recall_counts_each_target_of_the_last_list():
    turns = [Turn(user="", ranked=["2"] + [str(n) for n in range(100, 120)] + ["6"])]
    transcript = Transcript(
        case_id="c", system="s", protocol="ievalm", k=50, max_turns=5, targets=["2", "6"], turns=turns
    )
    summary = summarize([transcript], catalog_size=10)
    assert summary["recall@1"] == 0.5 and summary["recall@10"] == 0.5 and summary["recall@50"] == 1.0
    assert summary["samples"] == 2


def test_unknown_attributes_and_targets_without_facts_get_no_information(tiny_knowledge):
    seeker = IevalmSeeker(["1"], tiny_knowledge.catalog)
    assert seeker.answer("star") == "Leonardo DiCaprio, Tom Hardy"
    assert seeker.answer("writer") == NO_INFORMATION and seeker.answer(None) == NO_INFORMATION
    assert IevalmSeeker(["nope"], tiny_knowledge.catalog).answer("genre") == NO_INFORMATION


def test_an_ievalm_turn_file_with_empty_utterances_runs_with_two_workers(tiny_settings, tiny_knowledge, tmp_path: Path):
    rows = [
        {
            "dialog_id": "20001",
            "turn_id": 3,
            "context": ["", "Hi! What are you in the mood for?", "", "", "Something like Inception (2010), no horror"],
            "entity": ["Inception (2010)"],
            "rec": ["Interstellar (2014)"],
            "resp": "Interstellar (2014)!",
        },
        {
            "dialog_id": "20002",
            "turn_id": 1,
            "context": ["A funny family movie for tonight?"],
            "entity": [],
            "rec": ["Paddington (2014)"],
            "resp": "Paddington (2014)",
        },
    ]
    path = tmp_path / "turns.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    settings = {"data_dir": tiny_settings.data_dir, "catalog": tiny_settings.catalog, "embedding_model": "hashing"}
    reports = {}
    for protocol in ("ievalm", "replay"):
        config = EvalConfig(
            cases=path,
            protocol=protocol,
            systems=("agent", "tools"),
            workers=2,
            out=tmp_path / protocol,
            settings=settings,
        )
        reports[protocol] = systems = run_eval(config, progress=False)["protocols"][protocol]["systems"]
        assert all(m["cases"] == 2 and m["errors"] == 0 for m in systems.values()), systems
    agent = reports["ievalm"]["agent"]
    assert 1 <= agent["rounds"] <= 5 and agent["samples"] == 2 and agent["questions_per_case"] is not None
    assert reports["replay"]["tools"]["samples"] == 2 and reports["replay"]["tools"]["samples_new"] == 2
