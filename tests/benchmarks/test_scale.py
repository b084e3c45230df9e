"""The scale benchmark's synthetic catalog, and a small run of the whole benchmark (behaviour, no timings)."""

from __future__ import annotations

import re

import pytest

from crs_agent.evals.bench_scale import BUILD_COLUMNS, QUERY_COLUMNS, main, synthetic_rows, write_catalog
from crs_agent.knowledge.loaders import load_catalog_file

REAL = [
    {
        "id": str(n),
        "title": title,
        "year": 1980 + n,
        "genres": genres,
        "people": {"director": [f"Dir{n} Maker{n}"], "star": [f"Star{n} Actor{n}", f"Other{n} Person{n}"]},
        "description": f"plot number {n} about a {word} who travels far away",
        "popularity": n * 10,
    }
    for n, (title, genres, word) in enumerate(
        [
            ("Blue River", ["drama"], "farmer"),
            ("Night Train Home", ["thriller", "crime"], "thief"),
            ("The Last Garden", ["comedy"], "cook"),
            ("Small Giants", ["family", "comedy"], "child"),
        ]
    )
]


def test_synthetic_items_are_marked_and_recombine_real_facts():
    rows = list(synthetic_rows(REAL, 300, seed=1))
    assert [r["id"] for r in rows] == [f"syn-{n:06d}" for n in range(300)]
    assert all(re.match(r"Synthetic #\d{6}: \S", r["title"]) for r in rows)
    assert {tuple(r["genres"]) for r in rows} <= {tuple(r["genres"]) for r in REAL}
    assert {r["year"] for r in rows} <= {r["year"] for r in REAL}
    real_words = {w for r in REAL for w in r["description"].split()}
    assert all(set(r["description"].split()) <= real_words for r in rows)
    assert rows == list(synthetic_rows(REAL, 300, seed=1)) and rows != list(synthetic_rows(REAL, 300, seed=2))
    people = {n for r in rows for names in r["people"].values() for n in names}
    assert len(people) > len({n for r in REAL for names in r["people"].values() for n in names})  # pool grows


def test_written_catalog_loads_without_bad_rows(tmp_path):
    path = tmp_path / "c.jsonl"
    assert write_catalog(path, REAL, 100) == 100
    source = load_catalog_file(path, strict=True)
    assert len(source.items) == 100 and sum(i.id.startswith("syn-") for i in source.items) == 96


def _tables(out: str) -> list[list[list[str]]]:
    blocks = out.split("\nScale, ")[1:]
    return [[re.split(r"\s{2,}", line.strip()) for line in block.strip().splitlines()[1:]] for block in blocks]


@pytest.mark.slow  # reads the bundled catalog
def test_small_scale_run_prints_both_tables_with_growth(capsys):
    argv = ["--sizes", "real,2000", "--real-items", "500", "--embedder", "hashing", "--queries", "10"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    build, queries = _tables(out)
    for table, columns in ((build, BUILD_COLUMNS), (queries, QUERY_COLUMNS)):
        assert table[0] == list(columns)
        assert [row[0] for row in table[1:3]] == ["500", "2,000"]
        assert table[3][0] == "x4.00" and table[3][-1].endswith("<- growth")
        assert all(float(cell.replace(",", "")) >= 0 for row in table[1:3] for cell in row)
    assert all(float(row[1]) > 0 for row in build[1:3])  # build seconds
    assert "embedder hashing" in out and re.search(r"retrieve\+rank grows x[\d.]+ for x4.00 items", out)


def test_people_filtered_retrieval_ranks_as_chroma_does(tiny_knowledge):
    """The exact scoring of a person's credits (instead of Chroma's id-restricted scan) keeps Chroma's order."""
    from crs_agent.knowledge import ItemFilter, item_node
    from crs_agent.tools.retrieval import Retriever

    query = "a thief in dreams and space travel"
    found = Retriever(tiny_knowledge).semantic(query, ItemFilter(people=["Christopher Nolan"]), k=10)
    nolan = [n.removeprefix("item:") for n in tiny_knowledge.kg.items_with("person:Christopher Nolan")]
    chroma = tiny_knowledge.items.search(query, k=10, ids=nolan)
    assert [c.item_id for c in found] == [i for i, _ in chroma] and len(found) == 4
    assert [c.score for c in found] == pytest.approx([s for _, s in chroma], abs=1e-4)
    assert item_node(found[0].item_id) in tiny_knowledge.kg.items_with("person:Christopher Nolan")


def test_sharing_skips_broad_relations_without_changing_the_rest(tiny_knowledge):
    from crs_agent.knowledge import item_node

    broad = {"has_genre", "released_in"}
    every = tiny_knowledge.kg.items_sharing(item_node("1"))
    narrow = tiny_knowledge.kg.items_sharing(item_node("1"), skip=broad)
    kept = {other: [link for link in links if link[0] not in broad] for other, links in every.items()}
    assert narrow == {other: links for other, links in kept.items() if links}
    assert item_node("2") in narrow and item_node("5") not in narrow  # Nolan shared; Paddington only a decade
