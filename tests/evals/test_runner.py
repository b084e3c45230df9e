"""The runner end to end on the tiny catalog: ``crs-agent eval``, reports, resumption, settings pinning."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from crs_agent.agent.cli import main
from crs_agent.evals import runner
from crs_agent.evals.cases import Case, Utterance, write_cases
from crs_agent.evals.runner import EvalConfig, EvalSettingsError, run_eval
from crs_agent.evals.systems import SYSTEMS
from crs_agent.evals.transcripts import TranscriptFile
from tests.agent.fakes import ScriptedChatModel

REPLAYED = [
    Utterance(role="seeker", text="Hi! I loved Inception (2010), anything like it?", items=["1"]),
    Utterance(role="recommender", text="Have you seen Interstellar (2014)?", items=["2"], scored=True),
    Utterance(role="seeker", text="Seen it, something else", items=[]),
    Utterance(role="recommender", text="Then The Dark Knight (2008)", items=["6"], scored=True),
]
CASES = [
    Case(id="nolan", opening="I loved Inception (2010), something like it", targets=["2", "6"], dialogue=REPLAYED),
    Case(id="scary", opening="hello", history=["3"], targets=["8"]),
    Case(id="bear", opening="A funny family movie for tonight?", targets=["5"]),
]


@pytest.fixture
def cases_file(tmp_path: Path) -> Path:
    path = tmp_path / "cases.jsonl"
    write_cases(CASES, path)
    return path


@pytest.fixture
def config(tiny_settings, tiny_knowledge, cases_file: Path, tmp_path: Path) -> EvalConfig:
    settings = {"data_dir": tiny_settings.data_dir, "catalog": tiny_settings.catalog, "embedding_model": "hashing"}
    return EvalConfig(
        cases=cases_file, protocol="hints", systems=("agent", "popularity"), out=tmp_path / "out", settings=settings
    )


def _cli(tiny_settings, *args: str) -> int:
    return main(["eval", "--data-dir", str(tiny_settings.data_dir), "--catalog", str(tiny_settings.catalog), *args])


def test_crs_agent_eval_runs_every_system_and_writes_the_report(
    tiny_settings, tiny_knowledge, cases_file: Path, tmp_path: Path, monkeypatch, capsys
):
    monkeypatch.setenv("CRS_AGENT_EMBEDDING_MODEL", "hashing")
    out = tmp_path / "out"
    common = ["--cases", str(cases_file), "--out", str(out), "--quiet"]
    hints = ["--protocol", "hints", "--systems", ",".join(SYSTEMS), "--max-turns", "3", "--k", "3"]
    assert _cli(tiny_settings, *common, *hints) == 0
    printed = capsys.readouterr().out
    assert "measured here" in printed and "published:" not in printed, "no published system used our own seeker"
    assert "No published system was measured with this seeker" in printed
    report = json.loads((out / "report.json").read_text())
    systems = report["protocols"]["hints"]["systems"]
    assert set(systems) == set(SYSTEMS) and all(m["cases"] == 3 for m in systems.values())
    agent = systems["agent"]
    assert {"recall@1", "recall@10", "recall@50", "hit@3", "avg_turns@3", "mrr", "latency_p50_ms"} <= set(agent)
    assert agent["leak_rate"] == 0.0 and agent["faithfulness"] == 1.0 and 1 <= agent["avg_turns@3"] <= 4
    assert systems["popularity"]["faithfulness"] is None
    assert (out / "plots" / "hints-success.png").stat().st_size > 1000
    assert (out / "plots" / "hints-latency.png").is_file()
    assert "| agent | 3 |" in (out / "report.md").read_text()
    transcript = TranscriptFile(out, "hints", "agent").load()[0]
    assert transcript.turns[0].user and transcript.target_titles

    assert _cli(tiny_settings, *common, "--protocol", "replay", "--systems", "agent,itemcf") == 0
    report = json.loads((out / "report.json").read_text())
    replay = report["protocols"]["replay"]["systems"]
    assert set(report["protocols"]) == {"hints", "replay"}
    assert replay["agent"]["cases"] == 1 and replay["agent"]["samples"] == 2, "one sample per suggested movie"
    printed = capsys.readouterr().out
    assert "UniCRS" in printed and "Kostric & Balog" in printed and "new R@10" in printed


def test_a_rerun_skips_finished_cases_and_redoes_an_interrupted_one(config: EvalConfig, monkeypatch):
    run_eval(config, progress=False)
    calls: list[tuple[str, str]] = []
    real = runner._run_task

    def counting(system: str, case_json: str) -> str:
        calls.append((system, json.loads(case_json)["id"]))
        return real(system, case_json)

    monkeypatch.setattr(runner, "_run_task", counting)
    run_eval(config, progress=False)
    assert calls == [], "everything was finished"

    path = TranscriptFile(config.out, "hints", "popularity").path
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(lines[:-1]) + lines[-1][:40])  # the run died while writing the last case
    report = run_eval(config, progress=False)
    assert calls == [("popularity", "bear")]
    assert report["protocols"]["hints"]["systems"]["popularity"]["cases"] == 3
    assert len(TranscriptFile(config.out, "hints", "popularity").load()) == 3


def test_results_do_not_depend_on_the_number_of_workers(config: EvalConfig, tmp_path: Path):
    one = run_eval(config, progress=False)["protocols"]["hints"]["systems"]
    two = run_eval(replace(config, workers=2, out=tmp_path / "two"), progress=False)["protocols"]["hints"]
    two = two["systems"]
    drop = {"latency_p50_ms", "latency_p95_ms"}
    assert {s: {k: v for k, v in m.items() if k not in drop} for s, m in one.items()} == {
        s: {k: v for k, v in m.items() if k not in drop} for s, m in two.items()
    }


def test_other_settings_in_the_same_directory_are_refused(
    config: EvalConfig, tiny_settings, cases_file, capsys, monkeypatch
):
    monkeypatch.setenv("CRS_AGENT_EMBEDDING_MODEL", "hashing")
    run_eval(config, progress=False)
    with pytest.raises(EvalSettingsError, match="k was 10"):
        run_eval(replace(config, k=5), progress=False)
    args = ["--cases", str(cases_file), "--out", str(config.out), "--k", "5", "--systems", "popularity", "--quiet"]
    args += ["--protocol", "hints"]
    assert _cli(tiny_settings, *args) == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_llm_protocol_reports_the_leak_rate(config: EvalConfig, monkeypatch):
    from crs_agent.agent import llm

    seeker = ScriptedChatModel(["Honestly, Get Out!", "Something scary with Daniel Kaluuya."])

    def fake_models(settings, **kw):
        return None if settings.llm_backend == "rules" else seeker

    monkeypatch.setattr(llm, "make_chat_model", fake_models)
    only_scary = replace(config, protocol="llm", systems=("agent",), max_turns=2, limit=1)
    monkeypatch.setattr(runner, "select_cases", lambda cases, limit, seed: [c for c in cases if c.id == "scary"])
    report = run_eval(only_scary, progress=False)
    agent = report["protocols"]["llm"]["systems"]["agent"]
    assert agent["cases"] == 1 and agent["leak_rate"] == 0.5, "the second message's first draft named the target"
    (transcript,) = TranscriptFile(config.out, "llm", "agent").load()
    assert transcript.turns[0].question and transcript.turns[1].user == "Something scary with Daniel Kaluuya."
    assert not [a for a in report["published"] if a["protocol"] == "llm"], "no like-for-like published number"


def test_a_raw_redial_file_runs_as_it_is(tiny_settings, tiny_knowledge, tmp_path: Path, monkeypatch, capsys):
    from tests.evals.test_cases import redial_dialogue

    monkeypatch.setenv("CRS_AGENT_EMBEDDING_MODEL", "hashing")
    raw = tmp_path / "test.jsonl"
    raw.write_text(json.dumps(redial_dialogue()) + "\n", encoding="utf-8")
    for protocol in ("hints", "replay"):
        args = ["--cases", str(raw), "--protocol", protocol, "--systems", "itemcf", "--out", str(tmp_path / "o")]
        assert _cli(tiny_settings, *args, "--quiet") == 0
    report = json.loads((tmp_path / "o" / "report.json").read_text())
    assert report["protocols"]["replay"]["systems"]["itemcf"]["samples"] == 3
    assert report["protocols"]["hints"]["systems"]["itemcf"]["cases"] == 1


def test_a_failing_case_is_recorded_and_run_again_without_ending_a_two_worker_run(config: EvalConfig, tmp_path: Path):
    # a seeker turn of zero-width characters only: the agent refuses it with a typed EmptyMessageError
    broken = Case(
        id="broken",
        opening="hi",
        targets=["2"],
        dialogue=[*REPLAYED[:1], Utterance(role="seeker", text="\u200b\u200b"), *REPLAYED[1:2]],
    )
    broken.dialogue[-1] = broken.dialogue[-1].model_copy(update={"scored": True})
    path = tmp_path / "with-broken.jsonl"
    write_cases([CASES[0], broken], path)
    run = replace(config, cases=path, protocol="replay", systems=("agent",), workers=2)
    agent = run_eval(run, progress=False)["protocols"]["replay"]["systems"]["agent"]
    assert agent["cases"] == 1 and agent["errors"] == 1
    file = TranscriptFile(run.out, "replay", "agent")
    (failed,) = [t for t in file.load() if t.error]
    assert failed.case_id == "broken" and failed.error.startswith("EmptyMessageError: Your message is empty")
    lines = len(file.path.read_text().splitlines())
    assert run_eval(run, progress=False)["protocols"]["replay"]["systems"]["agent"]["errors"] == 1
    assert len(file.path.read_text().splitlines()) == lines + 1, "only the failed case ran again"


def test_agent_and_tools_run_with_generators_left_out(config: EvalConfig, tiny_knowledge):
    from crs_agent.evals.systems import make_system

    names = {g.name for g in make_system("tools", tiny_knowledge, None, 3).toolkit.core.generators}
    assert {"bm25", "dense"} <= names
    less = make_system("tools-without-bm25+dense", tiny_knowledge, None, 3).toolkit.core.generators
    assert {g.name for g in less} == names - {"bm25", "dense"}
    agent = make_system("agent-no-kg-without-bm25", tiny_knowledge, None, 3)
    assert "bm25" not in {g.name for g in agent.recommender.toolkit.core.generators}
    assert agent.recommender.options == {"use_kg": False}

    run = replace(config, protocol="replay", systems=("tools", "agent-without-bm25"))
    systems = run_eval(run, progress=False)["protocols"]["replay"]["systems"]
    assert set(systems) == {"tools", "agent-without-bm25"} and systems["agent-without-bm25"]["samples"] == 2

    for bad, says in [("tools-without-bm26", "choose from collab"), ("itemcf-without-bm25", "cannot")]:
        with pytest.raises(EvalSettingsError, match=says):
            run_eval(replace(config, systems=(bad,)), progress=False)
