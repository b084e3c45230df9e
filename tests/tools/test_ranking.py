"""The shipped ranker and the whole pipeline (generators -> pool -> ranker) on small catalogs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from langchain_core.tools import ToolException

from crs_agent.knowledge import Settings, build_index, load_knowledge
from crs_agent.tools import Profile, Toolkit
from crs_agent.tools.ranking import FEATURE_NAMES, Ranker, RankerMeta, RecommenderCore, shipped_dir
from crs_agent.tools.ranking.training import Example, Matrix, calibration, recall

GENRES = ["drama", "comedy", "thriller", "romance", "western", "war", "musical", "documentary"]


def _films() -> list[dict]:
    """80 films of equal popularity: two liked ones by director Ada Vale (stars Bo Kim / Cy Roe), a third by
    her with both stars, and 77 others by other people."""

    def film(item_id: str, title: str, year: int, stars: list[str], description: str) -> dict:
        people = {"director": ["Ada Vale"], "star": stars}
        return {"id": item_id, "title": title, "year": year, "genres": ["drama"], "people": people,
                "description": description, "popularity": 50}  # fmt: skip

    rows = [
        film("a", "Harbour Lights", 2001, ["Bo Kim", "Di Fox"], "A ferry pilot."),
        film("b", "Night Orchard", 2004, ["Cy Roe", "Ed Sun"], "Two sisters farm."),
        film("c", "Salt Roads", 2008, ["Bo Kim", "Cy Roe"], "A long walk home."),
    ]
    for n in range(77):
        rows.append(
            {
                "id": f"x{n}",
                "title": f"Film Number {n}",
                "year": 1960 + n % 60,
                "genres": [GENRES[n % len(GENRES)]],
                "people": {"director": [f"Director {n}"], "star": [f"Star {n}", f"Star {n + 1}"]},
                "description": f"Story {n} about things.",
                "popularity": 50,
            }
        )
    return rows


@pytest.fixture
def films(tmp_path: Path, tiny_settings):
    path = tmp_path / "films.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in _films()), encoding="utf-8")
    settings = tiny_settings.model_copy(update={"catalog": path, "data_dir": tmp_path / "films"})
    build_index(settings, progress=False)
    return load_knowledge(settings)


def test_the_shipped_ranker_loads_without_training_data():
    ranker = Ranker.default()
    assert ranker.fitted and (shipped_dir() / "ranker.txt").is_file()
    assert set(ranker.meta.features) <= set(FEATURE_NAMES)
    assert ranker.meta.calibration_x == sorted(ranker.meta.calibration_x)
    assert all(0.0 <= y <= 1.0 for y in ranker.meta.calibration_y)


def test_a_film_sharing_director_and_stars_with_two_liked_ones_outranks_a_random_one(films):
    profile = Profile(liked_ids=["a", "b"], mentioned_ids=["a", "b"], seen_ids=["a", "b"], said=["I loved those two"])
    ranked = RecommenderCore(films).rank(["x40", "c", "x7"], profile)
    assert ranked[0].item_id == "c"
    assert ranked[0].score > ranked[-1].score


def test_recommend_returns_fifty_when_the_catalog_allows(films):
    profile = Profile(liked_ids=["a"], mentioned_ids=["a"], seen_ids=["a"], said=["something like that"])
    found = Toolkit(films).recommend(profile, k=50)
    assert len(found) == 50 and len({c.item_id for c in found}) == 50
    assert "a" not in {c.item_id for c in found}
    assert all(0.0 <= c.score <= 1.0 for c in found)
    assert [c.score for c in found] == sorted((c.score for c in found), reverse=True)
    assert found[0].item_id == "c" and found[0].components["kg"] > 0


def test_a_suggestion_liked_and_unseen_can_come_back_but_nothing_seen_disliked_or_turned_down(films):
    profile = Profile(
        liked_ids=["c"],
        suggested_ids=["c", "x3"],
        mentioned_ids=["a", "x5", "x6"],
        seen_ids=["a"],
        disliked_ids=["x5"],
        rejected_ids=["x3", "x6"],
        said=["Salt Roads sounds great, I have not seen it"],
    )
    core = RecommenderCore(films)
    ids = [c.item_id for c in core.recommend(profile, k=80)]
    assert "c" in ids
    assert not {"a", "x5", "x3", "x6"} & set(ids)
    assert [c.item_id for c in core.rank(["a", "x5", "x3", "c"], profile)] == ["c"]
    with pytest.raises(ToolException, match="constraints or was already seen"):
        Toolkit(films).rank(["a", "x5", "x3"], profile)


def test_the_pipeline_runs_on_the_tiny_catalog_and_the_book_example(tiny_knowledge, tmp_path: Path):
    found = Toolkit(tiny_knowledge).recommend(Profile(liked_ids=["1"], mentioned_ids=["1"], seen_ids=["1"]), k=50)
    assert 0 < len(found) <= 7 and "1" not in {c.item_id for c in found}
    books_dir = tmp_path / "books"
    books = Path(__file__).resolve().parents[2] / "docs" / "examples" / "books.jsonl"
    settings = Settings(data_dir=books_dir, catalog=books, embedding_model="hashing")
    build_index(settings, progress=False)
    k = load_knowledge(settings)
    hobbit = k.catalog.by_title("The Hobbit")[0].id
    ranked = Toolkit(k).recommend(Profile(liked_ids=[hobbit], mentioned_ids=[hobbit], seen_ids=[hobbit]), k=5)
    assert any(k.catalog[c.item_id].people.get("author") == ["J. R. R. Tolkien"] for c in ranked[:3])
    popular = list(RecommenderCore(k).generator("popular").candidates(Profile(), n=3))  # no dialogues: the prior
    assert popular == [i.id for i in sorted(k.catalog, key=lambda i: -i.popularity)[:3]]


def test_an_interactions_file_feeds_the_collaborative_generators(tmp_path: Path, tiny_catalog_file: Path):
    path = tmp_path / "interactions.csv"
    rows = [f"u{u},{i},{r}" for u in range(6) for i, r in (("1", 5), ("8", 4.5), ("5", 1))]
    path.write_text("user,item,rating\n" + "\n".join(rows) + "\n", encoding="utf-8")
    settings = Settings(
        data_dir=tmp_path / "d", catalog=tiny_catalog_file, embedding_model="hashing", interactions=path
    )
    build_index(settings, progress=False)
    core = RecommenderCore(load_knowledge(settings))
    assert {"collab", "ratings"} <= {g.name for g in core.generators}
    assert next(iter(core.generator("collab").candidates(Profile(liked_ids=["1"], mentioned_ids=["1"]), n=3))) == "8"


def test_an_unfitted_ranker_falls_back_to_the_fused_score(films):
    core = RecommenderCore(films, Ranker(meta=RankerMeta()))
    found = core.recommend(Profile(liked_ids=["a", "b"], mentioned_ids=["a", "b"], seen_ids=["a", "b"]), k=5)
    assert found[0].item_id == "c" and all(0.0 <= c.score <= 1.0 for c in found)


def test_calibration_is_monotone_and_recall_counts_pool_misses():
    raw = np.linspace(-2, 2, 400)
    labels = (np.random.default_rng(0).random(400) < (raw + 2) / 8).astype(float)
    xs, ys = calibration(raw, labels, points=20)
    assert xs == sorted(xs) and ys == sorted(ys) and len(xs) <= 21
    m = Matrix(np.zeros((3, len(FEATURE_NAMES)), np.float32), np.array([0, 1, 0.0]), [3], [], [["p", "q", "r"]])
    m.examples = [Example("g", Profile(), ["q", "missing"], ["missing"])]
    assert recall(m, np.array([0.1, 0.9, 0.5]), (1, 10)) == {1: 0.5, 10: 0.5}
    assert recall(m, np.array([0.1, 0.9, 0.5]), (1, 10), new=True) == {1: 0.0, 10: 0.0}
