"""Refit the shipped ranker (``tools/data/ranker.txt`` + ``ranker.json``) from the bundled training data.

    python -m crs_agent.evals.fit_ranker [--out DIR] [--seed 12] [--folds 5] [--ablations [--threads 2]] [--limit N]
    python -m crs_agent.evals.fit_ranker --check      # refit, compare with the shipped ranker, write nothing
    python -m crs_agent.evals.fit_ranker --buffer 500 # also score validation over time-buffered signals

Training turns: every recommendation turn of the ReDial training-split dialogues that are not validation
dialogues, replayed with ``replay_contexts`` and the learned reading (profiles built exactly as the agent and
the ``tools`` evaluation system build them). Their collaborative signals are out of fold: the dialogues are
split into ``--folds`` groups by their recommender (ReDial's test dialogues are led by workers the training
split never saw) and each group's turns are scored with signals fitted without that group (and without any
validation conversation). Validation turns: ``evals/data/valid_turns.jsonl``, scored with
signals fitted without the validation conversations; they early-stop the booster and fit its calibration.
The test files are never read. The fit is deterministic: ``ranker.json`` records the sha256 of the matrices it
was fitted on, and ``--check`` refits and says whether the matrices and the trees equal the shipped ones.

Prints each generator's recall@50/200/500 and the pooled recall on the validation turns, the ranker's
R@1/10/50 (all targets and new items); with ``--ablations``, each generator removed, each feature group
removed and no ranker, each refitted and cross-validated over the validation turns, with paired intervals.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from itertools import islice
from pathlib import Path
from typing import Any

import numpy as np

from crs_agent.agent.reading import features as reading_features
from crs_agent.agent.understand import clean_message, read_deterministic
from crs_agent.evals.cases import Utterance, cases_from_file, eval_data, redial_dialogue_id, redial_utterances
from crs_agent.evals.metrics import paired_interval
from crs_agent.evals.protocols import replay_contexts
from crs_agent.evals.reading_data import load_redial
from crs_agent.evals.reading_eval import CachedEmbedder
from crs_agent.knowledge import CollaborativeSignals, Knowledge, Settings, ensure_index
from crs_agent.knowledge.collab import suggestion_bank
from crs_agent.knowledge.embeddings import EmbeddingCache, shipped_vectors
from crs_agent.knowledge.loaders import bundled_data_dir, load_bundled_movies
from crs_agent.tools.candidates import GENERATORS, Resources, top_n
from crs_agent.tools.context import LastReply
from crs_agent.tools.linker import Linker
from crs_agent.tools.ranking import FEATURE_GROUPS, Ranker, RankerMeta, RecommenderCore, Scored, shipped_dir
from crs_agent.tools.ranking.features import FEATURE_NAMES
from crs_agent.tools.ranking.training import (
    Example,
    FitConfig,
    Matrix,
    calibration,
    fingerprint,
    fit_booster,
    matrix,
    recall,
    turn_hits,
    without_generator,
)

CUTS = (50, 200, 500)


def validation_ids() -> set[str]:
    path = eval_data("redial_valid_dialogues.jsonl")
    with path.open(encoding="utf-8") as lines:
        return {json.loads(line)["conversationId"] for line in lines if line.strip()}


Dialogue = tuple[str, list[Utterance]]


def training_records() -> list[dict[str, Any]]:
    """The bundled ReDial training-split dialogues, as records of the official schema."""
    return load_redial(bundled_data_dir() / "redial_train_dialogues.jsonl.gz")


def training_dialogues(
    knowledge: Knowledge, records: list[dict[str, Any]], skip: set[str], limit: int | None
) -> list[Dialogue]:
    kept = islice((d for d in records if d["conversationId"] not in skip), limit)
    return [(d["conversationId"], redial_utterances(d, knowledge.catalog)) for d in kept]


def recommender_workers(records: list[dict[str, Any]]) -> dict[str, str]:
    """Each dialogue's recommender (ReDial's ``respondentWorkerId``). The test dialogues' workers never appear in
    the training split, so the training turns' signals leave out every dialogue their recommender led (folds
    group dialogues by recommender): the ranker learns from turns whose recommender is a stranger to the
    signals, as at test."""
    return {d["conversationId"]: f"worker {d.get('respondentWorkerId')}" for d in records}


def validation_dialogues(knowledge: Knowledge, limit: int | None) -> list[Dialogue]:
    cases = cases_from_file(eval_data("valid_turns.jsonl"), knowledge.catalog).cases[:limit]
    return [(case.id, case.dialogue) for case in cases]


def reading_embedder(knowledge: Knowledge, linker: Linker, dialogues: list[Dialogue], cache: Path) -> Any:
    """The index's embedder, answering the learned reading's texts (each seeker message masked, and a window
    per title) from vectors embedded once in batches through ``cache``: replaying ~30k messages one at a time
    would take most of the fit."""
    texts: list[str] = []
    for _, utterances in dialogues:
        last = LastReply(item_ids=[])
        for utterance in utterances:
            text = clean_message(utterance.text)[0]
            if utterance.role == "recommender":
                last = LastReply(item_ids=utterance.items, own=False)
            elif text:
                texts += reading_features(text, read_deterministic(text, linker, last), last).texts()
    unique = list(dict.fromkeys(texts))
    vectors = EmbeddingCache(cache, knowledge.embedder).embed(unique)
    return CachedEmbedder(knowledge.embedder, dict(zip(unique, vectors, strict=True)))


def examples(dialogues: list[Dialogue], linker: Linker, embedder: Any) -> list[Example]:
    return [
        Example(group, profile, list(turn.items), new)
        for group, utterances in dialogues
        for profile, turn, new in replay_contexts(utterances, linker, embedder)
    ]


def prime_messages(resources: Resources, examples: list[Example], cache: Path) -> None:
    """Embed every message the dense generator and the features will read, once, through ``cache``."""
    said = [[t for t in e.profile.said if t.strip()] for e in examples]
    texts = list(dict.fromkeys(t[:500] for s in said for t in s[-6:]))
    vectors = EmbeddingCache(cache, resources.knowledge.embedder).embed(texts)
    resources.messages.put(texts, vectors)


def fold_of(group: str, folds: int, seed: int) -> int:
    return int(hashlib.sha256(f"{seed}:{group}".encode()).hexdigest(), 16) % folds


def fold_groups(dialogues: list[str], workers: dict[str, str], folds: int, seed: int) -> dict[int, set[str]]:
    """The dialogues of each fold, every dialogue of one recommender in the same fold (a dialogue whose
    recommender is unknown is a group of its own)."""
    groups: dict[int, set[str]] = {}
    for dialogue in dialogues:
        groups.setdefault(fold_of(workers.get(dialogue, dialogue), folds, seed), set()).add(dialogue)
    return dict(sorted(groups.items()))


def time_chunks(dialogues: dict[str, int], chunks: int) -> list[set[str]]:
    """The dialogues (id -> ReDial conversation number) in at most ``chunks`` runs of consecutive numbers."""
    ordered = sorted(dialogues, key=lambda d: (dialogues[d], d))
    size = -(-len(ordered) // max(chunks, 1))
    return [set(ordered[n : n + size]) for n in range(0, len(ordered), max(size, 1))]


def near_in_time(conversations: Iterable[str], numbers: Iterable[int], buffer: int) -> set[str]:
    """The conversations whose ReDial number lies within ``buffer`` of the span of ``numbers``: collected about
    when those dialogues were, often by the same workers in one sitting (ids grow with time)."""
    numbers = list(numbers)
    low, high = min(numbers) - buffer, max(numbers) + buffer
    return {c for c in conversations if c.isdigit() and low <= int(c) <= high}


def buffered_validation(knowledge: Knowledge, source, base: Resources, held_out: set[str], valid_ex: list[Example],
                        embed: Callable, buffer: int, chunks: int = 20) -> Matrix:  # fmt: skip
    """The validation turns scored with signals that also leave out the training conversations within
    ``buffer`` ids of their dialogue (in ``chunks`` runs of consecutive dialogues): ReDial's test dialogues
    come after the whole training split, so no signal of theirs was collected alongside them."""
    dialogues = {e.group: int(redial_dialogue_id(e.group)) for e in valid_ex if e.group.startswith("ievalm-")}
    conversations = [c.id for c in source.interactions.conversations]
    unfitted, parts = Ranker(meta=RankerMeta()), []
    for members in time_chunks(dialogues, chunks):
        left_out = held_out | near_in_time(conversations, (dialogues[g] for g in members), buffer)
        core = RecommenderCore(knowledge, unfitted, base.with_collab(signals(knowledge, source, left_out, embed)))
        parts.append(matrix((core, e) for e in valid_ex if e.group in members))
    return stacked(parts)


class GeneratorRecall:
    """Per-generator and pooled recall on the validation turns (an ``observe`` callback of ``matrix``)."""

    def __init__(self) -> None:
        self.hits: dict[str, dict[int, int]] = {}
        self.total = 0
        self.allowed = 0  # targets the hard filter lets through: the ceiling of every recall

    def __call__(self, example: Example, scored: Scored) -> None:
        ids, mask = scored.turn.resources.arrays.ids, scored.turn.mask
        self.total += len(example.targets)
        for name, values in scored.pool.scores.items():
            rows, _ = top_n(values, mask, max(CUTS))
            self._count(name, [ids[r] for r in rows], example.targets)
        fused = scored.pool.rows[np.argsort(-scored.pool.fused, kind="stable")]
        self._count("pool (fused)", [ids[r] for r in fused], example.targets)
        position = scored.turn.resources.arrays.row
        self.allowed += sum(bool(mask[position[t]]) for t in example.targets if t in position)

    def _count(self, name: str, ranked: list[str], targets: list[str]) -> None:
        hits = self.hits.setdefault(name, dict.fromkeys(CUTS, 0))
        for k in CUTS:
            top = set(ranked[:k])
            hits[k] += sum(t in top for t in targets)

    def table(self) -> str:
        lines = ["| generator | R@50 | R@200 | R@500 |", "|---|---|---|---|"]
        for name, hits in self.hits.items():
            lines.append(f"| {name} | " + " | ".join(f"{hits[k] / max(self.total, 1):.3f}" for k in CUTS) + " |")
        ceiling = self.allowed / max(self.total, 1)
        return "\n".join(
            [*lines, f"| (targets the hard filter allows) | {ceiling:.3f} | {ceiling:.3f} | {ceiling:.3f} |"]
        )


def bank_embedder(knowledge: Knowledge, source, cache: Path) -> Callable[[list[str]], np.ndarray]:
    """Every suggestion context's vector, embedded once through ``cache`` (seeded with the shipped vectors):
    each fold's bank is a subset of the whole."""
    texts = list(dict.fromkeys(t for _, t in suggestion_bank(source.interactions, set(knowledge.catalog.ids()))))
    vectors = EmbeddingCache(cache, knowledge.embedder, seed=shipped_vectors(knowledge.embedder)).embed(texts)
    known = dict(zip(texts, vectors, strict=True))
    return lambda batch: np.vstack([known[t] for t in batch])


def signals(knowledge: Knowledge, source, without: set[str], embed: Callable) -> CollaborativeSignals:
    interactions = source.interactions.without(without)
    return CollaborativeSignals.build(knowledge.catalog.ids(), source.ratings, interactions, embed=embed)


def stacked(parts: list[Matrix]) -> Matrix:
    """Several matrices' turns as one, in order."""
    return Matrix(
        np.vstack([p.rows for p in parts]),
        np.concatenate([p.labels for p in parts]),
        [s for p in parts for s in p.sizes],
        [e for p in parts for e in p.examples],
        [i for p in parts for i in p.ids],
    )


def build_matrices(knowledge: Knowledge, config: FitConfig, limit: int | None, buffer: int = 0) -> tuple:
    """The training and validation matrices, the generators' recall table, and with ``buffer`` the validation
    turns again over time-buffered signals (:func:`buffered_validation`; else None).

    Every text is embedded afresh, through a scratch cache of this fit only: a MiniLM vector differs in its last
    bits with the batch it was computed in, so vectors left in the index's cache by other runs (an evaluation,
    another fit) would change the matrices, and the trees, of a refit."""
    with tempfile.TemporaryDirectory(prefix="crs-agent-fit-") as scratch:
        return _matrices(knowledge, config, limit, buffer, Path(scratch))


def _matrices(knowledge: Knowledge, config: FitConfig, limit: int | None, buffer: int, cache: Path) -> tuple:
    started = time.perf_counter()
    linker = Linker(knowledge.catalog, knowledge.kg)
    source = load_bundled_movies()
    held_out = validation_ids() | source.interactions.validation_ids()
    records = training_records()
    train_dialogues, valid_dialogues = (
        training_dialogues(knowledge, records, held_out, limit),
        validation_dialogues(knowledge, limit),
    )
    embedder = reading_embedder(knowledge, linker, train_dialogues + valid_dialogues, cache)
    print(f"the reading's messages embedded ({time.perf_counter() - started:.0f} s)")
    train_ex, valid_ex = examples(train_dialogues, linker, embedder), examples(valid_dialogues, linker, embedder)
    print(f"{len(train_ex)} training turns, {len(valid_ex)} validation turns ({time.perf_counter() - started:.0f} s)")
    base = Resources.of(knowledge)
    prime_messages(base, train_ex + valid_ex, cache)
    print(f"messages embedded ({time.perf_counter() - started:.0f} s)")
    unfitted = Ranker(meta=RankerMeta())
    embed = bank_embedder(knowledge, source, cache)
    valid_signals = signals(knowledge, source, held_out, embed)
    valid_core = RecommenderCore(knowledge, unfitted, base.with_collab(valid_signals))
    tables = GeneratorRecall()
    valid = matrix(((valid_core, e) for e in valid_ex), observe=tables)
    groups = fold_groups([e.group for e in train_ex], recommender_workers(records), config.folds, config.seed)
    parts = []
    for fold, members in groups.items():
        fold_signals = signals(knowledge, source, held_out | members, embed)
        core = RecommenderCore(knowledge, unfitted, base.with_collab(fold_signals))
        mine = (e for e in train_ex if e.group in members)
        parts.append(matrix(((core, e) for e in mine), config.negatives, config.seed + fold, config.dropout))
    train = stacked(parts)
    print(f"features: {train.rows.shape[0]} training rows, {valid.rows.shape[0]} validation rows "
          f"({time.perf_counter() - started:.0f} s)")  # fmt: skip
    buffered = buffered_validation(knowledge, source, base, held_out, valid_ex, embed, buffer) if buffer else None
    return train, valid, tables, buffered


def evaluate(train: Matrix, valid: Matrix, config: FitConfig, drop: tuple[str, ...] = ()) -> tuple:
    booster = fit_booster(train, valid, config, drop)
    raw = booster.predict(valid.rows, num_threads=1)
    return booster, raw, recall(valid, raw), recall(valid, raw, new=True)


def row(name: str, every: dict[int, float], new: dict[int, float]) -> str:
    cells = [every[1], every[10], every[50], new[1], new[10], new[50]]
    return f"| {name} | " + " | ".join(f"{v:.3f}" for v in cells) + " |"


def ranking_table(m: Matrix, raw: np.ndarray) -> str:
    """Recall of the ranker's ``raw`` scores over ``m``'s turns, beside the fused generator score's."""
    fused = m.rows[:, FEATURE_NAMES.index("fused")]
    return "\n".join([
        "| ranker | R@1 | R@10 | R@50 | new R@1 | new R@10 | new R@50 |\n|---|---|---|---|---|---|---|",
        row("all features", recall(m, raw), recall(m, raw, new=True)),
        row("fused generator score alone", recall(m, fused), recall(m, fused, new=True)),
    ])  # fmt: skip


def validation_halves(valid: Matrix, seed: int) -> list[list[int]]:
    """The validation turns (indices into ``valid``) in two halves, every turn of one recommender in the same
    half: an ablation early-stops on one half and is scored on the other, whose recommenders it never saw."""
    workers = recommender_workers(load_redial(eval_data("redial_valid_dialogues.jsonl")))
    halves: list[list[int]] = [[], []]
    for n, example in enumerate(valid.examples):
        dialogue = redial_dialogue_id(example.group)
        halves[fold_of(workers.get(dialogue, dialogue), 2, seed)].append(n)
    return halves


def take(m: Matrix, turns: list[int]) -> Matrix:
    """The rows and bookkeeping of some of ``m``'s turns, in the order given."""
    starts = m.starts()
    rows = np.concatenate([np.arange(starts[n], starts[n + 1]) for n in turns]) if turns else np.zeros(0, int)
    return Matrix(
        m.rows[rows],
        m.labels[rows],
        [m.sizes[n] for n in turns],
        [m.examples[n] for n in turns],
        [m.ids[n] for n in turns],
    )


ARM_CUTS = (1, 10, 50)


def ablation_arms() -> list[tuple[str, str | None, tuple[str, ...]]]:
    """(name, generator removed or ``"fused"`` for no ranker, feature columns dropped), the reference first."""
    arms: list[tuple[str, str | None, tuple[str, ...]]] = [("everything", None, ())]
    arms += [(f"without generator {gen.name}", gen.name, ()) for gen in GENERATORS]
    arms += [(f"without {group} features", None, tuple(FEATURE_GROUPS[group])) for group in ABLATED_GROUPS]
    return [*arms, ("fused generator score alone (no ranker)", "fused", ())]


ABLATED_GROUPS = ("item", "context", "match", "dialogue")


def cross_validated(
    train: Matrix, valid: Matrix, halves: list[list[int]], config: FitConfig, gen: str | None, drop: tuple[str, ...]
) -> tuple[dict[int, np.ndarray], np.ndarray, dict[int, np.ndarray], np.ndarray, list[int]]:
    """One arm over both halves: per validation turn (in ``valid``'s order) its hits by cutoff and its target
    count, for all targets and for new ones, and the trees each half's booster kept."""
    every = {k: np.zeros(len(valid.sizes)) for k in ARM_CUTS}
    new = {k: np.zeros(len(valid.sizes)) for k in ARM_CUTS}
    samples, samples_new, trees = np.zeros(len(valid.sizes)), np.zeros(len(valid.sizes)), []
    for held in (0, 1):
        stop_on, score_on = take(valid, halves[1 - held]), take(valid, halves[held])
        if gen == "fused":
            raw, kept = score_on.rows[:, FEATURE_NAMES.index("fused")], 0
        else:
            booster = fit_booster(train, stop_on, config, drop)
            raw, kept = booster.predict(score_on.rows, num_threads=config.threads), booster.best_iteration
        trees.append(kept)
        at = np.asarray(halves[held], dtype=np.int64)
        for into, count, only_new in ((every, samples, False), (new, samples_new, True)):
            hits, targets = turn_hits(score_on, raw, ARM_CUTS, only_new)
            count[at] = targets
            for k in ARM_CUTS:
                into[k][at] = hits[k]
    return every, samples, new, samples_new, trees


def ablations(train: Matrix, valid: Matrix, config: FitConfig, pool_config) -> Iterator[str]:
    """Each generator removed (from the pool and the features), each feature group removed, and no ranker at
    all, beside everything: each arm refitted on every training turn, cross-validated over the validation
    turns' two halves by recommender, with the paired 95% bootstrap interval (over validation turns) of its
    difference from everything. One markdown row per arm, as it finishes."""
    halves = validation_halves(valid, config.seed)
    q, w, k = pool_config.quotas, pool_config.weights, pool_config.rrf_k
    reference = None
    for name, gen, drop in ablation_arms():
        started = time.perf_counter()
        t, v = (train, valid) if gen in (None, "fused") else (
            without_generator(train, gen, q, w, k), without_generator(valid, gen, q, w, k)
        )  # fmt: skip
        every, samples, new, samples_new, trees = cross_validated(t, v, halves, config, gen, drop)
        cells = [every[c].sum() / max(samples.sum(), 1) for c in ARM_CUTS]
        cells += [new[c].sum() / max(samples_new.sum(), 1) for c in ARM_CUTS]
        if reference is None:
            reference, deltas = every, ["" for _ in ARM_CUTS]
        else:
            deltas = []
            for c in ARM_CUTS:
                d = paired_interval(reference[c], every[c], samples, seed=config.seed)
                star = "*" if d["low"] > 0 or d["high"] < 0 else ""
                deltas.append(f"{d['delta']:+.3f}{star} [{d['low']:+.3f}, {d['high']:+.3f}]")
        values = " | ".join(f"{v:.3f}" for v in cells)
        yield f"| {name} | {values} | {' | '.join(deltas)} | {trees} ({time.perf_counter() - started:.0f} s) |"


ABLATION_HEAD = (
    "| arm | R@1 | R@10 | R@50 | new R@1 | new R@10 | new R@50 | ΔR@1 | ΔR@10 | ΔR@50 | trees (time) |\n"
    "|---|---|---|---|---|---|---|---|---|---|---|"
)


def check(shipped_dir_: Path, fitted: Ranker) -> list[str]:
    """How the ranker just fitted differs from the one saved in ``shipped_dir_`` (matrices, then trees); empty
    when the refit reproduces it byte for byte."""
    shipped = Ranker.load(shipped_dir_)
    problems = []
    if shipped.meta.matrices != fitted.meta.matrices:
        problems.append(
            f"the matrices differ: shipped {shipped.meta.matrices or '(not recorded)'}, refit {fitted.meta.matrices}"
            " (another index, embedding cache, data or feature code)"
        )
    with tempfile.TemporaryDirectory() as tmp:
        fitted.save(Path(tmp))
        for name in ("ranker.txt", "ranker.json"):
            ours, theirs = Path(tmp, name), shipped_dir_ / name
            if not theirs.exists() or ours.read_bytes() != theirs.read_bytes():
                problems.append(f"{name} differs from {theirs}")
    return problems


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=shipped_dir(), help="Where ranker.txt and ranker.json go.")
    parser.add_argument("--seed", type=int, default=12)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument(
        "--ablations",
        action="store_true",
        help="Also refit and cross-validate every ablation (17 arms, two boosters each: about 30 minutes on 2 "
        "threads).",
    )
    parser.add_argument("--threads", type=int, default=2, help="LightGBM threads of the ablations' boosters.")
    parser.add_argument("--limit", type=int, help="At most N turns of each kind (a quick check, not for shipping).")
    parser.add_argument(
        "--buffer",
        type=int,
        default=0,
        help="Also score the validation turns with signals that leave out the training conversations within N ids "
        "of their dialogue (a test-like check, about 90 s more; 500 in the README). Not used by the fit.",
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="Refit and compare with the ranker in --out (matrices and trees) instead of writing it; exit status 1 "
        "when they differ.",
    )
    args = parser.parse_args()
    started = time.perf_counter()
    config = FitConfig(seed=args.seed, folds=args.folds)
    settings = Settings()
    knowledge = ensure_index(settings)
    train, valid, tables, buffered = build_matrices(knowledge, config, args.limit, args.buffer)
    print("\nValidation turns, candidate generation (targets the hard filter excludes count as misses):")
    print(tables.table())
    booster, raw, every, new = evaluate(train, valid, config)
    xs, ys = calibration(raw, valid.labels)
    print(f"\nValidation turns, ranking ({booster.best_iteration} trees):\n{ranking_table(valid, raw)}")
    if buffered is not None:
        print(
            "\nThe same, each validation turn's signals also without the training conversations within "
            f"{args.buffer} ids of its dialogue (collected alongside it; ReDial's test comes after them all):"
        )
        print(ranking_table(buffered, booster.predict(buffered.rows, num_threads=1)))
    meta = RankerMeta(
        calibration_x=xs,
        calibration_y=ys,
        fitted_on=f"{len(train.sizes)} ReDial training-split turns (non-validation dialogues, {args.folds}-fold "
        f"signals, folds by recommender), early-stopped and calibrated on {len(valid.sizes)} validation turns; "
        f"seed {args.seed}",
        metrics={"valid_recall": every, "valid_recall_new": new, "trees": booster.best_iteration},
        matrices=fingerprint(train, valid),
    )
    ranker = Ranker(booster, meta)
    print(f"\nmatrices sha256 {meta.matrices}")
    if args.check:
        problems = check(args.out, ranker)
        print("\n".join(problems) or f"the refit reproduces {args.out / 'ranker.txt'} and ranker.json byte for byte")
        if problems:
            raise SystemExit(1)
    elif not args.limit:
        ranker.save(args.out)
        print(f"\nwrote {args.out / 'ranker.txt'} and ranker.json")
    if args.ablations:
        print(
            "\nAblations: every arm refitted on all training turns, early-stopped on one half of the validation"
            " turns (halves by recommender) and scored on the other, then swapped; Δ = the arm minus everything,"
            " 95% bootstrap interval over validation turns (* = it excludes 0):"
        )
        print(ABLATION_HEAD)
        for line in ablations(train, valid, config.model_copy(update={"threads": args.threads}), meta.pool):
            print(line, flush=True)
    print(f"\ndone in {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
