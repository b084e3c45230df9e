"""Scale benchmark from the real catalog to 100,000 items: build, retrieval + ranking, KG, memory, disk
(a benchmark, not a test).

    python -m crs_agent.evals.bench_scale [--sizes real,25000,100000] [--embedder hashing] [--queries 200]

``real`` is the bundled catalog's movies with facts (6.6k), written as a user catalog. A larger size adds
SYNTHETIC items to them, made by recombining the real catalog's facts with a seeded RNG and marked as such
everywhere: ids ``syn-000123``, titles ``Synthetic #000123: ...``. A synthetic item takes a real item's
genre combination, a real year, halves of two real titles and of two real plots, and people drawn from a
pool that grows with the catalog (the real people plus recombined first and last names) at the real
catalog's people-per-item ratio, so a person's number of credits stays realistic as the catalog grows.

Each size is built from scratch in a temporary data directory in a process of its own (build time, with a
breakdown, and peak RSS), then queried in another: one agent turn's tool calls as the planner makes them
(``retrieve_candidates`` k=30 under the profile's hard filter, ``expand_from_liked`` when the profile has
liked items, ``rank`` of the merged candidates k=10) over fixed profiles built around real items, a Chroma
top-50 query with and without a genre + year filter, KG facts and 3-hop typed paths between real items.
Prints the tables and how each measure grows from the smallest size to the largest.
"""

from __future__ import annotations

import argparse
import inspect
import json
import multiprocessing as mp
import queue as queue_module
import random
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

__all__ = ["BUILD_COLUMNS", "QUERY_COLUMNS", "main", "real_rows", "synthetic_rows", "write_catalog"]

BUILD_COLUMNS = ("items", "build s", "embed s", "chroma s", "KG s", "other s", "build peak RSS MB", "disk MB")
QUERY_COLUMNS = (
    "items", "load s", "turn p50 ms", "turn p95 ms", "retrieve p50 ms", "expand p50 ms", "rank p50 ms",
    "chroma top-50 p50 ms", "chroma filtered p50 ms", "KG facts p50 us", "KG 3-hop p50 ms", "serving RSS MB",
)  # fmt: skip
WISHES = (
    "a mind-bending heist inside dreams", "funny animated movie for kids about toys", "a scary haunted house",
    "romantic comedy in new york", "space exploration and survival", "gritty crime drama about the mafia",
    "superhero team saves the world", "a courtroom drama", "a road trip with old friends",
    "a war movie about soldiers", "a musical love story", "a detective hunting a serial killer",
)  # fmt: skip
LIKED_TITLES = ("Inception", "Toy Story", "The Godfather", "Titanic", "The Matrix", "Finding Nemo")


# -- the catalogs -------------------------------------------------------------------------------------
def real_rows() -> list[dict[str, Any]]:
    """The bundled movies that have facts, as user-catalog rows (popularity: mentions + ratings)."""
    from crs_agent.knowledge.loaders import load_bundled_movies

    fields = {"id", "title", "year", "genres", "people", "description"}
    return [
        {**item.model_dump(include=fields), "popularity": item.mentions + item.ratings}
        for item in load_bundled_movies().items
        if item.has_facts
    ]


def _halves(a: str, b: str) -> str:
    left, right = a.split(), b.split()
    return " ".join(left[: max(1, len(left) // 2)] + right[len(right) // 2 :])


def synthetic_rows(real: list[dict[str, Any]], count: int, seed: int = 0) -> Iterator[dict[str, Any]]:
    """``count`` SYNTHETIC items recombined from the real rows' facts (deterministic for a seed)."""
    rng = random.Random(seed)
    people = sorted({n for row in real for names in row["people"].values() for n in names})
    credits = sum(len(names) for row in real for names in row["people"].values()) / len(real)
    firsts = sorted({n.split()[0] for n in people if " " in n})
    lasts = sorted({n.split()[-1] for n in people if " " in n})
    ratio = len(people) / len(real)
    pool = people + [f"{rng.choice(firsts)} {rng.choice(lasts)}" for _ in range(int(ratio * count))]
    with_plot = [row for row in real if row["description"]]
    for n in range(count):
        a, b = rng.choice(real), rng.choice(real)
        roles = {"director": [rng.choice(pool)], "writer": [rng.choice(pool)]}
        roles["star"] = [rng.choice(pool) for _ in range(max(1, round(credits) - 2))]
        yield {
            "id": f"syn-{n:06d}",
            "title": f"Synthetic #{n:06d}: {_halves(a['title'], b['title'])}",
            "year": rng.choice(real)["year"],
            "genres": rng.choice(real)["genres"],
            "people": roles,
            "description": _halves(rng.choice(with_plot)["description"], rng.choice(with_plot)["description"]),
            "popularity": rng.choice(real)["popularity"],
        }


def write_catalog(path: Path, real: list[dict[str, Any]], size: int | None, seed: int = 0) -> int:
    """The real rows, plus synthetic ones up to ``size`` items, as JSONL; returns the number of items."""
    extra = max(0, (size or 0) - len(real))
    with path.open("w", encoding="utf-8") as out:
        for row in [*real, *synthetic_rows(real, extra, seed)]:
            out.write(json.dumps(row) + "\n")
    return len(real) + extra


# -- measuring, each phase in a process of its own ------------------------------------------------
def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _instrument(timers: dict[str, float]) -> None:
    """Time the build's phases by wrapping the functions ``build_index`` calls (in the build process only)."""
    from crs_agent.knowledge.embeddings import EmbeddingCache
    from crs_agent.knowledge.graph import KnowledgeGraph
    from crs_agent.knowledge.stores import ItemStore

    def timed(fn: Callable[..., Any], label: str) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                timers[label] = timers.get(label, 0.0) + time.perf_counter() - start

        return wrapper

    for owner, name, label in (
        (EmbeddingCache, "embed", "embed s"), (ItemStore, "create", "chroma s"), (ItemStore, "add", "chroma s"),
        (KnowledgeGraph, "build", "KG s"), (KnowledgeGraph, "save", "KG s"),
    ):  # fmt: skip
        raw = inspect.getattr_static(owner, name)
        wrapped = classmethod(timed(raw.__func__, label)) if isinstance(raw, classmethod) else timed(raw, label)
        setattr(owner, name, wrapped)


def _build(data_dir: str, catalog: str, embedder: str, out: mp.Queue) -> None:
    from crs_agent.knowledge import Settings, build_index

    timers: dict[str, float] = {}
    _instrument(timers)
    settings = Settings(data_dir=Path(data_dir), catalog=Path(catalog), embedding_model=embedder, chroma="embedded")
    report = build_index(settings, progress=False)
    total = report.manifest["build_seconds"]
    timers["other s"] = total - sum(timers.values())  # catalog load and save, collaborative signals
    out.put({"build s": total, **timers, "build peak RSS MB": _peak_mb()})


def _ms(samples: list[float], q: float = 0.5) -> float:
    ordered = sorted(samples)
    return 1000 * (statistics.median(ordered) if q == 0.5 else ordered[min(len(ordered) - 1, int(q * len(ordered)))])


def _timed(fn: Callable[[int], Any], repeats: int) -> list[float]:
    samples = []
    for n in range(repeats):
        start = time.perf_counter()
        fn(n)
        samples.append(time.perf_counter() - start)
    return samples


def _profiles(knowledge: Any) -> list[Any]:
    from crs_agent.tools import Profile

    liked = [knowledge.catalog.by_title(t)[0].id for t in LIKED_TITLES if knowledge.catalog.by_title(t)]
    return [
        Profile(
            wishes=[wish],
            liked_ids=[liked[n % len(liked)]] if liked and n % 2 == 0 else [],
            exclude_genres=["horror"] if n % 3 == 0 else [],
            year_min=1990 if n % 4 == 0 else None,
        )
        for n, wish in enumerate(WISHES * 2)
    ]


def _turns(knowledge: Any, repeats: int) -> dict[str, float]:
    """One agent turn's tool calls per profile, as ``agent.planner.tool_call_for`` makes them."""
    from crs_agent.tools import Toolkit

    toolkit, profiles = Toolkit(knowledge), _profiles(knowledge)
    stages: dict[str, list[float]] = {"retrieve": [], "expand": [], "rank": [], "turn": []}

    def turn(n: int) -> None:
        profile = profiles[n % len(profiles)]
        flt = profile.hard_filter()
        marks = [time.perf_counter()]
        _, found = toolkit.retrieve_candidates(profile.wish_text()[:300], flt, k=30)
        marks.append(time.perf_counter())
        if profile.liked_ids:
            found += toolkit.expand_from_liked(profile.liked_ids[-10:], k=30, exclude_ids=flt.exclude_ids)[1]
        marks.append(time.perf_counter())
        ids = [c.item_id for c in sorted(found, key=lambda c: -c.score)][:300]
        toolkit.rank(ids, profile, k=10)
        marks.append(time.perf_counter())
        for stage, start, end in zip(("retrieve", "expand", "rank"), marks, marks[1:], strict=False):
            if stage != "expand" or profile.liked_ids:
                stages[stage].append(end - start)
        stages["turn"].append(marks[-1] - marks[0])

    _timed(turn, len(profiles))  # warm-up: query embeddings are cached from here on
    for samples in stages.values():
        samples.clear()
    _timed(turn, repeats)
    return {
        "turn p50 ms": _ms(stages["turn"]), "turn p95 ms": _ms(stages["turn"], 0.95),
        "retrieve p50 ms": _ms(stages["retrieve"]), "expand p50 ms": _ms(stages["expand"]),
        "rank p50 ms": _ms(stages["rank"]),
    }  # fmt: skip


def _query(data_dir: str, catalog: str, embedder: str, repeats: int, out: mp.Queue) -> None:
    import numpy as np

    from crs_agent.knowledge import Settings, item_node, load_knowledge
    from crs_agent.knowledge.stores import genre_key

    settings = Settings(data_dir=Path(data_dir), catalog=Path(catalog), embedding_model=embedder, chroma="embedded")
    start = time.perf_counter()
    k = load_knowledge(settings)
    row: dict[str, float] = {"load s": time.perf_counter() - start, **_turns(k, repeats)}
    vectors = [np.asarray(v) for v in k.embedder(list(WISHES))]
    row["chroma top-50 p50 ms"] = _ms(_timed(lambda n: k.items.search(vector=vectors[n % len(vectors)], k=50), repeats))
    where = {"$and": [{genre_key("horror"): False}, {"year": {"$gte": 1990}}]}
    # a filtered query scans Chroma's metadata (about 1 s at 100k items): fewer samples keep the run short
    filtered = _timed(lambda n: k.items.search(vector=vectors[n % len(vectors)], k=50, where=where), min(repeats, 12))
    row["chroma filtered p50 ms"] = _ms(filtered)
    rng = random.Random(0)
    real = sorted(item_node(i.id) for i in k.catalog if not i.id.startswith("syn-") and i.has_facts)
    pairs = [(rng.choice(real), rng.choice(real)) for _ in range(2000)]
    row["KG facts p50 us"] = 1000 * _ms(_timed(lambda n: k.kg.facts(pairs[n][0]), 2000))
    row["KG 3-hop p50 ms"] = _ms(_timed(lambda n: k.kg.paths(*pairs[n], max_len=3), 2000))
    out.put({**row, "serving RSS MB": _peak_mb()})


def _in_process(target: Callable[..., None], *args: Any) -> dict[str, float]:
    """Run ``target(*args, queue)`` in a fresh process (so its peak RSS is its own) and return what it put."""
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=target, args=(*args, queue))
    proc.start()
    while True:
        try:
            result = queue.get(timeout=1.0)
            break
        except queue_module.Empty:
            if not proc.is_alive():
                raise RuntimeError(
                    f"{target.__name__} failed (exit code {proc.exitcode}); see its traceback above"
                ) from None
    proc.join()
    return result


def _disk_mb(data_dir: Path) -> float:
    files = [p for part in ("builds", "chroma") for p in (data_dir / part).rglob("*") if p.is_file()]
    return sum(p.stat().st_size for p in files) / 2**20


def measure(size: int | None, real: list[dict[str, Any]], args: argparse.Namespace, work: Path) -> dict[str, float]:
    """Build and query one catalog size; returns every column of both tables."""
    label = "real" if size is None else str(size)
    catalog, data_dir = work / f"catalog-{label}.jsonl", work / f"data-{label}"
    items = write_catalog(catalog, real, size, args.seed)
    built = _in_process(_build, str(data_dir), str(catalog), args.embedder)
    queried = _in_process(_query, str(data_dir), str(catalog), args.embedder, args.queries)
    return {"items": items, **built, "disk MB": _disk_mb(data_dir), **queried}


# -- the report ---------------------------------------------------------------------------------------
def _cell(value: float) -> str:
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:.1f}" if value >= 10 else f"{value:.2f}" if value >= 1 else f"{value:.3f}"


def print_tables(rows: list[dict[str, float]], embedder: str) -> None:
    first, last = rows[0], rows[-1]
    growth = {name: last[name] / first[name] if first[name] else float("nan") for name in first}
    for title, columns in (("build", BUILD_COLUMNS), ("queries", QUERY_COLUMNS)):
        widths = [max(len(name), 8) for name in columns]
        print(f"\nScale, {title}: real catalog + SYNTHETIC items, embedder {embedder}")
        print("  ".join(f"{name:>{w}}" for name, w in zip(columns, widths, strict=True)))
        for row in rows:
            print("  ".join(f"{_cell(row[name]):>{w}}" for name, w in zip(columns, widths, strict=True)))
        cells = [f"x{growth[name]:.2f}" for name in columns]
        print("  ".join(f"{cell:>{w}}" for cell, w in zip(cells, widths, strict=True)), " <- growth")
    verdict = "sub-linear" if growth["turn p50 ms"] < growth["items"] else "NOT sub-linear"
    print(f"\nretrieve+rank grows x{growth['turn p50 ms']:.2f} for x{growth['items']:.2f} items: {verdict}")


def _sizes(text: str) -> list[int | None]:
    return [None if part.strip() == "real" else int(part) for part in text.split(",")]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=_sizes, default=_sizes("real,25000,100000"), help='e.g. "real,25000,100000"')
    parser.add_argument("--embedder", default="all-MiniLM-L6-v2", help='"hashing" (fast, for CI) or a model')
    parser.add_argument("--queries", type=int, default=200, help="Timed agent turns (and Chroma queries) per size.")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--real-items", type=int, help="Start from only the N most popular real items (quick runs).")
    parser.add_argument("--work-dir", type=Path, help="Keep catalogs and indexes here (default: a temporary dir).")
    args = parser.parse_args(argv)
    real = real_rows()
    if args.real_items:
        real = sorted(real, key=lambda row: (-row["popularity"], row["id"]))[: args.real_items]
    with tempfile.TemporaryDirectory(prefix="crs-scale-") as tmp:
        work = args.work_dir or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        rows = [measure(size, real, args, work) for size in args.sizes]
    print_tables(rows, args.embedder)
    return 0


if __name__ == "__main__":
    sys.exit(main())
