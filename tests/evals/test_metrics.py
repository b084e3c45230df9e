"""Every metric on hand-made transcripts."""

from __future__ import annotations

import pytest

from crs_agent.evals.metrics import (
    coverage,
    faithfulness,
    hit_within,
    last_list,
    leak_rate,
    mean_popularity,
    paired_difference,
    percentile,
    recall_at,
    reciprocal_rank,
    replay_hits,
    success_turn,
    summarize,
    tokens_per_turn,
    turns_to_success,
)
from crs_agent.evals.transcripts import Shown, Transcript, Turn


def _turn(ranked: list[str], question: bool = False, **kw) -> Turn:
    shown = [Shown(id=i, popularity=0.5) for i in ranked[:2]]
    return Turn(user="u", ranked=ranked, question=question, shown=[] if question else shown, **kw)


def _transcript(turns: list[Turn], targets: list[str] = ["t"], protocol: str = "hints") -> Transcript:  # noqa: B006
    return Transcript(case_id="c", system="s", protocol=protocol, k=2, max_turns=3, targets=targets, turns=turns)


# success at turn 3 (rank 2), after a miss and a question
WON = _transcript([_turn(["a", "b", "t"]), _turn([], question=True), _turn(["x", "t", "y"], accepted=True)])
# never: the target is at rank 3 of the last list, outside k=2
LOST = _transcript([_turn(["a", "b"]), _turn(["c", "d"]), _turn(["e", "f", "t"])])


def test_recall_reads_the_last_list_not_a_question():
    assert last_list(WON) == ["x", "t", "y"]
    assert last_list(_transcript([_turn(["a", "t"]), _turn([], question=True)])) == ["a", "t"]
    assert (recall_at(WON, 1), recall_at(WON, 2), recall_at(LOST, 2), recall_at(LOST, 50)) == (0.0, 1.0, 0.0, 1.0)
    assert recall_at(_transcript([_turn(["u", "v"])], targets=["x", "v"]), 2) == 1.0, "any target counts"
    assert recall_at(_transcript([]), 10) == 0.0


def test_success_within_turns_and_average_turns_count_failures_as_t_plus_1():
    assert success_turn(WON, 2) == 3 and success_turn(WON, 3) == 1 and success_turn(LOST, 2) is None
    assert [hit_within(WON, 2, t) for t in (1, 2, 3)] == [0.0, 0.0, 1.0]
    assert turns_to_success(WON, 2) == 3.0 and turns_to_success(LOST, 2) == 4.0


def test_reciprocal_rank_of_the_first_target():
    assert reciprocal_rank(WON) == 0.5 and reciprocal_rank(LOST) == pytest.approx(1 / 3)
    assert reciprocal_rank(_transcript([_turn(["a"])])) == 0.0


def test_faithfulness_is_the_share_of_grounded_entities():
    turn = Turn(
        user="u",
        shown=[
            Shown(id="a", entities=["Christopher Nolan", "Inception"]),
            Shown(id="b", entities=["Tom Hanks"], ungrounded=["Tom Hanks"]),
            Shown(id="c"),
        ],
    )
    assert faithfulness(_transcript([turn])) == pytest.approx(2 / 3)
    assert faithfulness(LOST) is None, "no reasons, nothing to judge"


def test_leak_rate_popularity_tokens_and_latencies():
    t = _transcript([_turn(["a"], leaked=True, tokens=30), _turn(["b"], tokens=10), _turn(["c"]), _turn(["d"])])
    assert leak_rate(t) == 0.25 and tokens_per_turn(t) == 10.0
    assert mean_popularity(t) == 0.5 and mean_popularity(_transcript([])) is None
    assert leak_rate(_transcript([])) is None


def test_replay_hits_one_per_suggested_movie_and_coverage():
    t = _transcript(
        [_turn(["a", "b"], targets=["b", "z"]), _turn(["q"]), _turn(["z", "b"], targets=["z"])],
        targets=["b", "z"],
        protocol="replay",
    )
    assert replay_hits(t, 1) == [0.0, 0.0, 1.0] and replay_hits(t, 2) == [1.0, 0.0, 1.0]
    assert coverage([t, WON], catalog_size=10) == pytest.approx(6 / 10)  # a b q z x t


def test_percentile_is_nearest_rank():
    values = [float(v) for v in range(1, 101)]
    assert (percentile(values, 50), percentile(values, 95), percentile(values, 100)) == (50.0, 95.0, 100.0)
    assert percentile([], 50) == 0.0 and percentile([7.0], 95) == 7.0


def test_summary_names_every_metric():
    failed = _transcript([]).model_copy(update={"error": "ValueError: boom"})
    s = summarize([WON, LOST, failed], catalog_size=100)
    assert s["cases"] == 2 and s["errors"] == 1
    assert (s["recall@10"], s["hit@3"], s["avg_turns@3"], s["recall@1"]) == (1.0, 0.5, 3.5, 0.0)
    assert s["hit@1"] == 0.0 and s["questions_per_case"] == 0.5
    expected = {"mrr", "coverage", "popularity", "faithfulness", "leak_rate", "latency_p50_ms", "latency_p95_ms"}
    assert expected | {"tokens_per_turn", "recall@50"} <= set(s)
    replay = summarize([_transcript([_turn(["t"], targets=["t"])], protocol="replay")], 100)
    assert replay["recall@1"] == 1.0 and replay["samples"] == 1 and replay["leak_rate"] is None


def _replay(case_id: str, system: str, ranked: list[str], targets: list[str], error: str | None = None) -> Transcript:
    turn = Turn(user="u", ranked=ranked, targets=targets, new_targets=targets)
    return Transcript(
        case_id=case_id, system=system, protocol="replay", k=10, max_turns=1, targets=targets, turns=[turn], error=error
    )


def test_paired_difference_counts_targets_over_shared_cases_with_a_bootstrap_interval():
    cases = [(f"c{n}", [f"t{n}", f"u{n}"]) for n in range(40)]
    base = [_replay(c, "base", ["x", t[0], "y"], t) for c, t in cases]  # one of two targets at rank 2
    same = paired_difference(base, [_replay(c, "same", ["x", t[0], "y"], t) for c, t in cases], k=2)
    assert same == {"delta": 0.0, "low": 0.0, "high": 0.0, "cases": 40}
    # better on a quarter of the cases (both targets in the top 2), worse at k=1 nowhere
    better = [_replay(c, "better", [*t, "x"] if n % 4 == 0 else ["x", t[0]], t) for n, (c, t) in enumerate(cases)]
    d = paired_difference(base, better, k=2)
    assert d["delta"] == pytest.approx(10 / 80) and 0 < d["low"] < d["delta"] < d["high"]
    # a case the other system failed, or never ran, is left out of both sides
    partial = [*better[:30], _replay("c30", "better", [], cases[30][1], error="boom")]
    assert paired_difference(base, partial, k=2)["cases"] == 30
    assert paired_difference(base, [], k=2) is None
