"""Metrics as pure functions of saved transcripts, and their aggregation into one named summary.

Per transcript (``None`` where a metric does not apply, e.g. faithfulness of a system with no reasons):

- ``recall_at(t, k)`` — a target in the top ``k`` of the last recommendation list (iEvaLM; the
  conversation stops at acceptance, so that list is the accepted one when there was success);
- ``success_turn(t, k)`` — the first turn whose list had a target in its top ``k`` (``None`` = never);
  ``hit_within(t, k, turns)`` and ``turns_to_success(t, k)`` (failures count ``max_turns + 1``, as
  InteRecAgent's AT@k);
- ``reciprocal_rank`` — 1 / rank of the first target in the last list;
- ``faithfulness`` — the share of entities named in the reasons that are grounded (KG path or item text);
- ``leak_rate`` — the share of simulated user messages whose first draft named a target;
- ``mean_popularity`` — the popularity prior of what was shown;
- ``replay_hits(t, k)`` — one 0/1 per (recommendation point, movie named next), as iEvaLM counts; with
  ``new_only``, only the movies not mentioned earlier in the dialogue (Kostric & Balog, SIGIR 2026);
- ``target_hits(t, k)`` — one 0/1 per target of the last list (iEvaLM's attribute-based protocol).

Across transcripts: ``coverage`` (share of the catalog ever shown) and latency percentiles.

Between two systems run on the same cases: ``paired_difference`` — the difference of their Recall@k with a
95% bootstrap interval that resamples cases, both systems together (a case's hits stay with it: its targets
share one context). An interval that excludes 0 is a measurable difference; two rows' own recalls are too
noisy to say that when the difference is a fraction of a point.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence

import numpy as np

from crs_agent.evals.transcripts import Transcript

__all__ = [
    "CUTOFFS",
    "coverage",
    "faithfulness",
    "hit_within",
    "last_list",
    "latencies",
    "leak_rate",
    "mean_popularity",
    "paired_difference",
    "paired_interval",
    "percentile",
    "recall_at",
    "reciprocal_rank",
    "replay_hits",
    "success_turn",
    "summarize",
    "target_hits",
    "tokens_per_turn",
    "turns_to_success",
]

CUTOFFS = (1, 10, 50)


def last_list(t: Transcript) -> list[str]:
    """The last recommendation list (a question is not one)."""
    return next((turn.ranked for turn in reversed(t.turns) if not turn.question and turn.ranked), [])


def recall_at(t: Transcript, k: int) -> float:
    return float(any(target in last_list(t)[:k] for target in t.targets))


def success_turn(t: Transcript, k: int) -> int | None:
    for number, turn in enumerate(t.turns, start=1):
        if not turn.question and any(target in turn.ranked[:k] for target in t.targets):
            return number
    return None


def hit_within(t: Transcript, k: int, turns: int) -> float:
    found = success_turn(t, k)
    return float(found is not None and found <= turns)


def turns_to_success(t: Transcript, k: int) -> float:
    found = success_turn(t, k)
    return float(found if found is not None and found <= t.max_turns else t.max_turns + 1)


def reciprocal_rank(t: Transcript) -> float:
    ranked = last_list(t)
    return next((1.0 / n for n, item in enumerate(ranked, start=1) if item in t.targets), 0.0)


def faithfulness(t: Transcript) -> float | None:
    named = [(e, s) for turn in t.turns for s in turn.shown for e in s.entities]
    if not named:
        return None
    return sum(e not in s.ungrounded for e, s in named) / len(named)


def leak_rate(t: Transcript) -> float | None:
    return statistics.fmean(turn.leaked for turn in t.turns) if t.turns else None


def mean_popularity(t: Transcript) -> float | None:
    shown = [s.popularity for turn in t.turns for s in turn.shown]
    return statistics.fmean(shown) if shown else None


def latencies(t: Transcript) -> list[float]:
    return [turn.latency_ms for turn in t.turns]


def tokens_per_turn(t: Transcript) -> float | None:
    return statistics.fmean(turn.tokens for turn in t.turns) if t.turns else None


def replay_hits(t: Transcript, k: int, new_only: bool = False) -> list[float]:
    """One 0/1 per (recommendation point, movie named next); ``new_only``: only movies not mentioned before."""
    return [
        float(target in turn.ranked[:k])
        for turn in t.turns
        for target in (turn.new_targets if new_only else turn.targets)
    ]


def target_hits(t: Transcript, k: int) -> list[float]:
    """One 0/1 per target: in the top ``k`` of the last list (iEvaLM's ``RecMetric``)."""
    ranked = last_list(t)[:k]
    return [float(target in ranked) for target in t.targets]


def case_hits(t: Transcript, k: int) -> tuple[float, int]:
    """(hits, samples) of one case at ``k``, counted as ``summarize`` counts its protocol's Recall@k."""
    if t.protocol == "replay":
        hits = replay_hits(t, k)
    elif t.protocol == "ievalm":
        hits = target_hits(t, k)
    else:
        return recall_at(t, k), 1
    return float(sum(hits)), len(hits)


def paired_difference(
    base: Sequence[Transcript], other: Sequence[Transcript], k: int, resamples: int = 2000, seed: int = 0
) -> dict[str, float | int] | None:
    """``other``'s Recall@k minus ``base``'s over the cases both finished, with a seeded 95% percentile
    bootstrap interval over cases; ``None`` when they share no finished case."""
    done = {t.case_id: t for t in base if t.error is None}
    pairs = [(done[t.case_id], t) for t in other if t.error is None and t.case_id in done]
    rows = [(*case_hits(b, k), case_hits(o, k)[0]) for b, o in pairs]
    if not rows:
        return None
    base_hits, samples, other_hits = (np.asarray(column, dtype=float) for column in zip(*rows, strict=True))
    return paired_interval(base_hits, other_hits, samples, resamples, seed)


def paired_interval(
    base_hits: np.ndarray, other_hits: np.ndarray, samples: np.ndarray, resamples: int = 2000, seed: int = 0
) -> dict[str, float | int]:
    """The recall difference ``sum(other - base) / sum(samples)`` of paired units (cases, turns) and its
    seeded 95% percentile bootstrap interval, the units resampled with replacement."""
    keep = samples > 0
    base_hits, other_hits, samples = base_hits[keep], other_hits[keep], samples[keep]
    if not samples.size:
        return {"delta": 0.0, "low": 0.0, "high": 0.0, "cases": 0}
    delta = (other_hits.sum() - base_hits.sum()) / samples.sum()
    draws = np.random.default_rng(seed).integers(0, samples.size, size=(resamples, samples.size))
    boot = (other_hits[draws].sum(axis=1) - base_hits[draws].sum(axis=1)) / samples[draws].sum(axis=1)
    low, high = np.percentile(boot, [2.5, 97.5])
    return {"delta": round(float(delta), 4), "low": round(float(low), 4), "high": round(float(high), 4),
            "cases": int(samples.size)}  # fmt: skip


def coverage(transcripts: Sequence[Transcript], catalog_size: int) -> float:
    shown = {s.id for t in transcripts for turn in t.turns for s in turn.shown}
    return len(shown) / catalog_size if catalog_size else 0.0


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (``q`` in 0..100); 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered), max(1, math.ceil(q / 100 * len(ordered)))) - 1]


def _mean(values: list[float | None]) -> float | None:
    kept = [v for v in values if v is not None]
    return round(statistics.fmean(kept), 4) if kept else None


def summarize(transcripts: Sequence[Transcript], catalog_size: int) -> dict[str, float | int | None]:
    """Every metric by name for one system and protocol (``recall@10``, ``hit@5``, ``latency_p50_ms``...)."""
    done = [t for t in transcripts if t.error is None]
    if not done:
        return {"cases": 0, "errors": len(transcripts)}
    protocol, k, max_turns = done[0].protocol, done[0].k, done[0].max_turns
    out: dict[str, float | int | None] = {"cases": len(done), "errors": len(transcripts) - len(done)}
    if protocol == "replay":
        for new_only, key in ((False, "recall"), (True, "recall_new")):
            for cut in CUTOFFS:
                hits = [h for t in done for h in replay_hits(t, cut, new_only)]
                out[f"{key}@{cut}"] = round(statistics.fmean(hits), 4) if hits else None
        out["samples"] = sum(len(replay_hits(t, 1)) for t in done)
        out["samples_new"] = sum(len(replay_hits(t, 1, new_only=True)) for t in done)
    elif protocol == "ievalm":
        for cut in CUTOFFS:
            hits = [h for t in done for h in target_hits(t, cut)]
            out[f"recall@{cut}"] = round(statistics.fmean(hits), 4) if hits else None
        out["samples"] = sum(len(t.targets) for t in done)
        out["success"] = _mean([float(any(turn.accepted for turn in t.turns)) for t in done])
        out["questions_per_case"] = _mean([float(sum(turn.question for turn in t.turns)) for t in done])
        out["rounds"] = _mean([float(len(t.turns)) for t in done])
        out["mrr"] = _mean([reciprocal_rank(t) for t in done])
    else:
        for cut in CUTOFFS:
            out[f"recall@{cut}"] = _mean([recall_at(t, cut) for t in done])
        for budget in range(1, max_turns + 1):
            out[f"hit@{budget}"] = _mean([hit_within(t, k, budget) for t in done])
        out[f"avg_turns@{max_turns}"] = _mean([turns_to_success(t, k) for t in done])
        out["mrr"] = _mean([reciprocal_rank(t) for t in done])
        out["questions_per_case"] = _mean([float(sum(turn.question for turn in t.turns)) for t in done])
    out["coverage"] = round(coverage(done, catalog_size), 4)
    out["popularity"] = _mean([mean_popularity(t) for t in done])
    out["faithfulness"] = _mean([faithfulness(t) for t in done])
    turns = [turn for t in done for turn in t.turns]  # per-turn rates pool every turn of every case
    out["leak_rate"] = _mean([float(turn.leaked) for turn in turns]) if protocol in ("hints", "llm") else None
    all_latencies = [ms for t in done for ms in latencies(t)]
    out["latency_p50_ms"] = round(percentile(all_latencies, 50), 1)
    out["latency_p95_ms"] = round(percentile(all_latencies, 95), 1)
    out["tokens_per_turn"] = _mean([float(turn.tokens) for turn in turns])
    return out
