"""The ranker fit's folds: the training turns' signals leave out every dialogue their recommender led."""

from __future__ import annotations

from crs_agent.evals.fit_ranker import fold_groups, recommender_workers, training_records


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
