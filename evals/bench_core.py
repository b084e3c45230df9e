"""Benchmark of the recommender core on the bundled catalog: one turn's retrieval + ranking, and the index.

    python -m crs_agent.evals.bench_core [--turns 300] [--cold-index]

Replays validation turns (never test turns) through ``Toolkit.recommend`` (every generator, pool, ranker) and
through the ``rank`` tool over 300 candidates, and prints p50 / p95 per turn (each turn embeds its newest
message, as in a live conversation), the first turn (which builds the BM25 indexes and loads the ranker), and
the process's peak RSS. ``--cold-index`` also builds the index into
an empty data directory (no embedding cache: the shipped vectors seed it) in a process of its own.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import resource
import statistics
import tempfile
import time
from pathlib import Path

from crs_agent.evals.cases import cases_from_file, eval_data
from crs_agent.evals.protocols import replay_contexts
from crs_agent.knowledge import Settings, build_index, ensure_index
from crs_agent.tools import Profile, Toolkit
from crs_agent.tools.linker import Linker

TARGETS = {"recommend p50 ms": 50.0, "recommend p95 ms": 150.0, "cold index s": 90.0, "peak RSS MB": 1536.0}


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _ms(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    if q == 0.5:
        return 1000 * statistics.median(ordered)
    return 1000 * ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _profiles(turns: int, settings: Settings) -> tuple[Toolkit, list[Profile]]:
    knowledge = ensure_index(settings)
    linker = Linker(knowledge.catalog, knowledge.kg)
    cases = cases_from_file(eval_data("valid_turns.jsonl"), knowledge.catalog).cases[:turns]
    profiles = [p for case in cases for p, _, _ in replay_contexts(case.dialogue, linker)]
    return Toolkit(knowledge), profiles


def _cold_index(out: mp.Queue) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp), catalog=None, chroma="embedded")
        started = time.perf_counter()
        build_index(settings, progress=False)
        out.put({"cold index s": time.perf_counter() - started, "cold index peak RSS MB": _peak_mb()})


def measure(turns: int, cold: bool) -> dict[str, float]:
    results: dict[str, float] = {}
    if cold:
        queue: mp.Queue = mp.get_context("spawn").Queue()
        proc = mp.get_context("spawn").Process(target=_cold_index, args=(queue,))
        proc.start()
        results.update(queue.get())
        proc.join()
    toolkit, profiles = _profiles(turns, Settings())
    for profile in profiles:  # a live conversation embedded its earlier messages on earlier turns
        for text in profile.said[:-1]:
            toolkit.core.resources.messages(text[:500])
    started = time.perf_counter()
    toolkit.recommend(profiles[0], 50)
    results["first turn ms"] = 1000 * (time.perf_counter() - started)
    recommend, rank = [], []
    for profile in profiles:
        started = time.perf_counter()
        found = toolkit.recommend(profile, 300)
        recommend.append(time.perf_counter() - started)
        started = time.perf_counter()
        toolkit.rank([c.item_id for c in found], profile, k=10)
        rank.append(time.perf_counter() - started)
    results.update(
        {
            "turns": len(profiles),
            "recommend p50 ms": _ms(recommend, 0.5),
            "recommend p95 ms": _ms(recommend, 0.95),
            "rank tool (300 ids) p50 ms": _ms(rank, 0.5),
            "rank tool (300 ids) p95 ms": _ms(rank, 0.95),
            "peak RSS MB": _peak_mb(),
        }
    )
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--turns", type=int, default=300, help="Validation turns to replay.")
    parser.add_argument("--cold-index", action="store_true", help="Also time a cold index build (about a minute).")
    args = parser.parse_args()
    results = measure(args.turns, args.cold_index)
    print("| measure | measured | target |\n|---|---|---|")
    for name, value in results.items():
        target = TARGETS.get(name)
        print(f"| {name} | {value:.1f} | {'' if target is None else f'<= {target:g}'} |")


if __name__ == "__main__":
    main()
