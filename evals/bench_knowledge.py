"""Benchmark of the knowledge layer on the full bundled catalog (speed and memory; not a test).

    python -m crs_agent.evals.bench_knowledge [--data-dir DIR] [--queries 200]

Builds the index cold in a fresh directory (unless ``--data-dir`` names an existing one), then a
warm rebuild (embedding cache hit), and times vector search, KG facts and KG paths. Prints a table.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import random
import resource
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from crs_agent.knowledge import Settings, build_index, item_node, load_knowledge
from crs_agent.knowledge.stores import genre_key

QUERIES = [
    "a mind-bending heist inside dreams",
    "funny animated movie for kids about toys",
    "a scary haunted house",
    "romantic comedy in new york",
    "space exploration and survival",
    "gritty crime drama about the mafia",
    "superhero team saves the world",
    "a courtroom drama",
]


def _build(data_dir: str, rebuild: bool, out: mp.Queue) -> None:
    report = build_index(Settings(data_dir=Path(data_dir)), rebuild=rebuild, progress=False)
    out.put((report.manifest["build_seconds"], resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024))


def _timed_build(data_dir: Path, rebuild: bool) -> tuple[float, float]:
    queue: mp.Queue = mp.get_context("spawn").Queue()
    proc = mp.get_context("spawn").Process(target=_build, args=(str(data_dir), rebuild, queue))
    proc.start()
    seconds, peak_mb = queue.get()
    proc.join()
    return seconds, peak_mb


def _percentiles(samples: list[float]) -> tuple[float, float]:
    ms = sorted(s * 1000 for s in samples)
    return statistics.median(ms), ms[min(len(ms) - 1, int(0.95 * len(ms)))]


def _time(fn, repeats: int) -> tuple[float, float]:
    samples = []
    for n in range(repeats):
        start = time.perf_counter()
        fn(n)
        samples.append(time.perf_counter() - start)
    return _percentiles(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data-dir", type=Path, help="Reuse this data directory (no cold build).")
    parser.add_argument("--queries", type=int, default=200)
    args = parser.parse_args()
    rows: list[tuple[str, str, str]] = []
    data_dir = args.data_dir or Path(tempfile.mkdtemp(prefix="crs-bench-"))
    if args.data_dir is None:
        cold, cold_mb = _timed_build(data_dir, rebuild=False)
        rows += [
            ("index build, cold (embeds 6.9k docs)", f"{cold:.1f} s", "<= 60 s"),
            ("peak RSS, cold build", f"{cold_mb:.0f} MB", ""),
        ]
    warm, warm_mb = _timed_build(data_dir, rebuild=True)
    rows += [
        ("index rebuild, embedding cache warm", f"{warm:.1f} s", ""),
        ("peak RSS, warm rebuild", f"{warm_mb:.0f} MB", ""),
    ]

    k = load_knowledge(Settings(data_dir=data_dir))
    vectors = [np.asarray(v) for v in k.embedder(QUERIES)]
    k.items.search(vector=vectors[0], k=50)  # warm up
    n = args.queries
    p50, p95 = _time(lambda i: k.items.search(vector=vectors[i % len(vectors)], k=50), n)
    rows.append(("vector top-50, no filter", f"p50 {p50:.2f} ms / p95 {p95:.2f} ms", "p50 <= 15 ms"))
    where = {"$and": [{genre_key("horror"): False}, {"year": {"$gte": 1990}}]}
    p50, p95 = _time(lambda i: k.items.search(vector=vectors[i % len(vectors)], k=50, where=where), n)
    rows.append(("vector top-50, genre+year filter", f"p50 {p50:.2f} ms / p95 {p95:.2f} ms", "p50 <= 15 ms"))
    p50, p95 = _time(lambda i: k.items.search(QUERIES[i % len(QUERIES)], k=50), min(n, 50))
    rows.append(("text query top-50 (embed + search)", f"p50 {p50:.2f} ms / p95 {p95:.2f} ms", ""))

    rng = random.Random(0)
    with_facts = [item_node(i.id) for i in k.catalog if i.has_facts]
    pairs = [(rng.choice(with_facts), rng.choice(with_facts)) for _ in range(2000)]
    p50, p95 = _time(lambda i: k.kg.facts(pairs[i][0]), 2000)
    rows.append(("KG facts of an item", f"p50 {p50 * 1000:.1f} us / p95 {p95 * 1000:.1f} us", "<= 0.1 ms"))
    p50, p95 = _time(lambda i: k.kg.paths(*pairs[i], max_len=3), 2000)
    rows.append(("KG typed paths, 2 random items, <= 3 hops", f"p50 {p50:.3f} ms / p95 {p95:.3f} ms", "p50 <= 2 ms"))
    p50, p95 = _time(lambda i: k.kg.items_sharing(pairs[i][0], "directed_by"), 2000)
    rows.append(("KG items sharing a director", f"p50 {p50 * 1000:.1f} us / p95 {p95 * 1000:.1f} us", ""))
    p50, p95 = _time(lambda i: k.kg.resolve(["nolan", "spielberg", "tom hanks", "kubrik"][i % 4]), 200)
    rows.append(("KG fuzzy entity resolution", f"p50 {p50:.2f} ms / p95 {p95:.2f} ms", ""))

    width = max(len(r[0]) for r in rows)
    print(f"\nKnowledge layer, {k.manifest['items']} items, {k.manifest['kg']['edges']} KG edges ({data_dir})")
    print(f"{'measure':<{width}}  {'measured here':<34}  target")
    print(f"{'-' * width}  {'-' * 34}  ------")
    for name, value, target in rows:
        print(f"{name:<{width}}  {value:<34}  {target}")


if __name__ == "__main__":
    main()
