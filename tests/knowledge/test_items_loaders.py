from __future__ import annotations

import json
from pathlib import Path

import pytest

from crs_agent.knowledge import Catalog, CatalogError, Item, normalize_title, split_title_year
from crs_agent.knowledge.loaders import load_catalog_file


def test_split_title_year_handles_redial_double_spaces():
    assert split_title_year("Police Academy  (1984)") == ("Police Academy", 1984)
    assert split_title_year("Back to the Future") == ("Back to the Future", None)


def test_normalize_title_drops_articles_accents_and_punctuation():
    assert normalize_title("The Matrix!") == "matrix"
    assert normalize_title("Amélie") == "amelie"
    assert normalize_title("Se7en") == "se7en"


def test_catalog_title_lookup_prefers_popular_items():
    catalog = Catalog(
        [
            Item(id="1", title="Heat", year=1995, popularity=0.9),
            Item(id="2", title="Heat", year=1986, popularity=0.1),
        ]
    )
    assert [i.id for i in catalog.by_title("heat")] == ["1", "2"]
    assert [i.id for i in catalog.by_title("Heat (1986)")] == ["2"]


def test_item_document_carries_facts_for_embedding():
    item = Item(
        id="1",
        title="Inception",
        year=2010,
        genres=["sci-fi"],
        people={"director": ["Christopher Nolan"]},
        description="Dreams within dreams.",
    )
    doc = item.document()
    assert doc == "Inception (2010). Sci-fi. Director: Christopher Nolan. Dreams within dreams."


def test_jsonl_catalog_reports_bad_rows_with_line_numbers(tmp_path: Path):
    path = tmp_path / "c.jsonl"
    path.write_text(
        "\n".join(
            [
                json.dumps({"id": "a", "title": "Good", "genres": ["x"]}),
                "{not json",
                json.dumps({"id": "", "title": "No id"}),
                json.dumps({"id": "a", "title": "Duplicate"}),
                json.dumps({"id": "b", "title": "Bad year", "year": "soon"}),
                json.dumps({"id": "c", "title": "Fine", "people": {"author": ["Someone"]}}),
            ]
        ),
        encoding="utf-8",
    )
    data = load_catalog_file(path)
    assert [i.id for i in data.items] == ["a", "c"]
    assert [row.line for row in data.bad_rows] == [2, 3, 4, 5]
    assert "duplicate" in data.bad_rows[2].error


def test_strict_catalog_stops_at_first_bad_row(tmp_path: Path):
    path = tmp_path / "c.jsonl"
    path.write_text(json.dumps({"id": "a", "title": "A"}) + "\n[1, 2]\n", encoding="utf-8")
    with pytest.raises(CatalogError, match="line 2"):
        load_catalog_file(path, strict=True)


def test_csv_catalog_reads_pipe_lists_and_people_columns(tmp_path: Path):
    path = tmp_path / "c.csv"
    path.write_text(
        "id,title,year,genres,people.author,description\n"
        "1,Dune,1965,science fiction|adventure,Frank Herbert,Desert planet politics.\n"
        "2,,1970,,,\n",
        encoding="utf-8",
    )
    data = load_catalog_file(path)
    assert data.items[0].genres == ["science fiction", "adventure"]
    assert data.items[0].people == {"author": ["Frank Herbert"]}
    assert data.bad_rows[0].line == 3


def test_missing_or_wrong_catalog_file_says_what_to_do(tmp_path: Path):
    with pytest.raises(CatalogError, match="does not exist"):
        load_catalog_file(tmp_path / "nope.jsonl")
    (tmp_path / "c.txt").write_text("x")
    with pytest.raises(CatalogError, match=r"\.jsonl or \.csv"):
        load_catalog_file(tmp_path / "c.txt")
