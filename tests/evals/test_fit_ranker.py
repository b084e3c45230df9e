"""The ranker fit's folds: the training turns' signals leave out every dialogue their recommender led."""

from __future__ import annotations

import json

import numpy as np

from crs_agent.evals.cases import eval_data
from crs_agent.evals.fit_ranker import (
    check,
    cross_validated,
    fold_groups,
    near_in_time,
    recommender_workers,
    time_chunks,
    training_records,
    validation_halves,
)
from crs_agent.tools.ranking import Ranker, RankerMeta, shipped_dir
from crs_agent.tools.ranking.features import FEATURE_NAMES
from crs_agent.tools.ranking.training import Example, FitConfig, Matrix, fingerprint, fit_booster


def test_every_dialogue_of_one_recommender_is_in_one_fold():
    workers = {f"d{n}": f"worker {n % 7}" for n in range(60)}
    groups = fold_groups([*workers, "unknown"], workers, folds=5, seed=12)
    fold = {d: f for f, members in groups.items() for d in members}
    for w in set(workers.values()):
        assert len({fold[d] for d, v in workers.items() if v == w}) == 1
    assert "unknown" in fold and sorted(fold) == sorted([*workers, "unknown"])
    assert len(groups) > 1  # seven recommenders spread over several folds


def test_the_bundled_training_dialogues_know_their_recommender():
    workers = recommender_workers(training_records())
    assert len(workers) == 4113 and "worker None" not in workers.values()
    assert len(set(workers.values())) < len(workers) / 5  # a recommender leads many dialogues


def test_validation_turns_run_in_consecutive_dialogues_and_leave_out_the_conversations_near_them():
    dialogues = {f"ievalm-{n}-1": n for n in (900, 100, 500, 300, 700)}
    assert time_chunks(dialogues, 2) == [
        {"ievalm-100-1", "ievalm-300-1", "ievalm-500-1"},
        {"ievalm-700-1", "ievalm-900-1"},
    ]
    singles = time_chunks(dialogues, 10)
    assert len(singles) == 5 and set().union(*singles) == set(dialogues)
    # the span of the chunk (100..500) widened by the buffer; ids that are not ReDial numbers are never near
    assert near_in_time(["49", "50", "99", "300", "550", "551", "x7"], [100, 500], 50) == {"50", "99", "300", "550"}


def _matrix(turns: int, seed: int) -> Matrix:
    """``turns`` turns of 20 candidates, one target each, that only the fused column tells apart."""
    rng = np.random.default_rng(seed)
    rows, labels, examples, ids = [], [], [], []
    for n in range(turns):
        target = int(rng.integers(20))
        label = (np.arange(20) == target).astype(float)
        block = rng.normal(size=(20, len(FEATURE_NAMES)))
        block[:, FEATURE_NAMES.index("fused")] = 3 * label + rng.normal(scale=0.5, size=20)
        rows.append(block)
        labels.append(label)
        ids.append([f"m{n}-{i}" for i in range(20)])
        examples.append(Example(f"ievalm-{n}-1", None, [f"m{n}-{target}"], [f"m{n}-{target}"]))  # type: ignore[arg-type]
    return Matrix(np.vstack(rows), np.concatenate(labels), [20] * turns, examples, ids)


def test_an_ablation_is_cross_validated_over_both_halves_and_can_lose_what_it_drops():
    train, valid = _matrix(150, seed=1), _matrix(60, seed=2)
    halves = [list(range(0, 60, 2)), list(range(1, 60, 2))]
    config = FitConfig(rounds=40, early_stopping=10, min_data_in_leaf=20)
    every, samples, new, samples_new, trees = cross_validated(train, valid, halves, config, None, ())
    assert samples.tolist() == [1.0] * 60 and samples_new.tolist() == [1.0] * 60 and len(trees) == 2
    assert every[1].mean() > 0.9 and every[50].mean() == 1.0 and new[1].tolist() == every[1].tolist()
    blind, *_ = cross_validated(train, valid, halves, config, None, ("fused",))
    assert blind[1].mean() < 0.3  # the only informative column dropped: near chance (1 in 20)
    fused, *_, no_trees = cross_validated(train, valid, halves, config, "fused", ())
    assert fused[1].mean() > 0.9 and no_trees == [0, 0]


def test_the_validation_halves_keep_each_recommender_on_one_side():
    turns = [json.loads(line) for line in eval_data("valid_turns.jsonl").open() if line.strip()]
    examples = [Example(f"ievalm-{t['dialog_id']}-{t['turn_id']}", None, [], []) for t in turns]  # type: ignore[arg-type]
    halves = validation_halves(Matrix(np.zeros((0, 1)), np.zeros(0), [0] * len(examples), examples), seed=12)
    assert sorted(halves[0] + halves[1]) == list(range(len(examples)))
    assert min(map(len, halves)) > len(examples) / 4
    dialogues = [json.loads(line) for line in eval_data("redial_valid_dialogues.jsonl").open() if line.strip()]
    workers = recommender_workers(dialogues)
    side: dict[str, int] = {}
    for half, members in enumerate(halves):
        for n in members:
            worker = workers[examples[n].group.split("-")[1]]
            assert side.setdefault(worker, half) == half
    assert len(side) > 10


def _fit(train: Matrix, valid: Matrix) -> Ranker:
    config = FitConfig(rounds=30, early_stopping=10, min_data_in_leaf=20)
    return Ranker(fit_booster(train, valid, config), RankerMeta(matrices=fingerprint(train, valid)))


def test_a_refit_on_the_same_matrices_reproduces_the_saved_ranker_and_one_on_other_matrices_does_not(tmp_path):
    train, valid = _matrix(120, seed=1), _matrix(40, seed=2)
    _fit(train, valid).save(tmp_path)
    assert check(tmp_path, _fit(_matrix(120, seed=1), _matrix(40, seed=2))) == []
    moved = _matrix(120, seed=1)
    moved.rows[7, FEATURE_NAMES.index("fused")] += 1.0  # one feature value of one candidate
    assert fingerprint(moved, valid) != fingerprint(train, valid)
    problems = check(tmp_path, _fit(moved, valid))
    assert problems and problems[0].startswith("the matrices differ")
    relabelled = _matrix(120, seed=1)
    relabelled.ids[3][0] = "another movie"
    assert fingerprint(relabelled, valid) != fingerprint(train, valid)


def test_the_shipped_ranker_records_the_matrices_it_was_fitted_on():
    meta = Ranker.load(shipped_dir()).meta
    assert len(meta.matrices) == 64 and int(meta.matrices, 16) > 0
