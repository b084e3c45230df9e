"""The load benchmark at small size: 4 rules conversations x 3 turns through the real server on 127.0.0.1.

Behaviour only (no timings): the run is clean, its table has every column, and its cross-talk audit fails
when it is handed another conversation's state.
"""

from __future__ import annotations

import re

import pytest

from crs_agent.evals import bench_load
from crs_agent.evals.bench_load import COLUMNS, Conversation, Observed, audit


def _table(out: str) -> dict[str, str]:
    lines = [line.strip() for line in out.splitlines() if line.strip()]
    header = next(n for n, line in enumerate(lines) if line.startswith("backend"))
    return dict(zip(re.split(r"\s{2,}", lines[header]), re.split(r"\s{2,}", lines[header + 1]), strict=True))


def _conversation(n: int, marker: str) -> Conversation:
    conv = Conversation(f"u{n}", "t", [f"hello {n}", f"more {n}"], marker)
    conv.replies = [
        {"text": f"answer {n}.{k}", "user_id": f"u{n}", "thread_id": "t", "items": [{"id": f"rec{n}"}]} for k in (1, 2)
    ]
    return conv


def _observed(conv: Conversation, liked: list[str]) -> Observed:
    history = [
        [role, text]
        for m, r in zip(conv.messages, conv.replies, strict=True)
        for role, text in (("human", m), ("ai", r["text"]))
    ]
    return Observed(history=history, profile={"liked_ids": liked}, threads=[conv.thread_id])


@pytest.fixture
def observations(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Conversation, Observed]]:
    """Every audited conversation with what the server held for it (the real ``_observe``, recorded)."""
    seen: list[tuple[Conversation, Observed]] = []
    real = bench_load._observe

    def spy(url: str, conv: Conversation) -> Observed:
        seen.append((conv, real(url, conv)))
        return seen[-1][1]

    monkeypatch.setattr(bench_load, "_observe", spy)
    return seen


@pytest.mark.scale  # starts the web app's server on 127.0.0.1
def test_small_load_run_is_clean_and_its_audit_catches_swapped_state(
    tiny_knowledge, tiny_settings, observations, capsys
):
    code = bench_load.main(
        ["--data-dir", str(tiny_settings.data_dir), "--conversations", "4", "--turns", "3", "--timeout", "300"]
    )
    out, err = capsys.readouterr()
    assert code == 0, err
    row = _table(out)
    assert list(row) == list(COLUMNS)
    assert row["backend"] == "rules" and row["conversations"] == "4" and row["turns"] == "12"
    assert row["errors"] == "0" and row["cross-talk"] == "0"
    assert float(row["RSS peak MB"]) >= float(row["RSS before MB"]) > 0
    assert not (tiny_settings.data_dir / "conversations.sqlite").exists()  # the run used a copy

    assert len(observations) == 4 and len({conv.user_id for conv, _ in observations}) == 4
    markers = [conv.marker for conv, _ in observations]
    (a, seen_a), (b, seen_b) = observations[:2]
    assert audit(a, seen_a, markers) == []
    assert any("/history" in p for p in audit(a, seen_b, markers))  # another conversation's turns
    swapped_profile = Observed(seen_a.history, seen_b.profile, seen_a.threads)
    assert any("its own liked item" in p for p in audit(a, swapped_profile, markers))
    assert any("/threads" in p for p in audit(a, Observed(seen_a.history, seen_a.profile, seen_b.threads), markers))


def test_audit_flags_each_kind_of_cross_talk():
    a = _conversation(0, "m0")
    markers = ["m0", "m1"]
    assert audit(a, _observed(a, ["m0"]), markers) == []
    assert audit(a, _observed(a, ["m0", "rec0", "m1"]), markers) != []  # b's marker, never shown to a
    a.replies[1]["items"].append({"id": "m1"})
    assert audit(a, _observed(a, ["m0", "m1"]), markers) == []  # recommended to a, so a may have liked it
    wrong_thread = _observed(a, ["m0"])
    wrong_thread.threads = ["t", "t-of-b"]
    assert any("/threads" in p for p in audit(a, wrong_thread, markers))
    a.replies[0]["user_id"] = "u1"
    assert any("reply 1 is for u1/t" in p for p in audit(a, _observed(a, ["m0"]), markers))


def test_missing_index_is_a_clean_error(tmp_path, capsys):
    assert bench_load.main(["--data-dir", str(tmp_path / "none"), "--conversations", "1", "--turns", "1"]) == 2
    assert "No index in" in capsys.readouterr().err


def test_any_problem_makes_the_run_fail(monkeypatch: pytest.MonkeyPatch, capsys):
    row = dict.fromkeys(COLUMNS, 0) | {"backend": "rules", "cross-talk": 1}
    monkeypatch.setattr(bench_load, "run", lambda args, work: (row, ["u0/t: /history holds 4 messages, not its own 2"]))
    assert bench_load.main(["--data-dir", "unused"]) == 1
    out, err = capsys.readouterr()
    assert _table(out)["cross-talk"] == "1" and "FAIL u0/t: /history" in err
