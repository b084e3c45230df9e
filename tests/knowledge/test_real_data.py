"""The real bundled data and the real MiniLM embedder (slow: builds the full index once, ~90 s cold)."""

from __future__ import annotations

from pathlib import Path

import pytest

from crs_agent.knowledge import Settings, build_index, item_node, load_knowledge
from crs_agent.knowledge.loaders import load_bundled_movies
from tests.conftest import TINY_BOOKS

pytestmark = pytest.mark.slow


@pytest.fixture(scope="session")
def real_knowledge(tmp_path_factory: pytest.TempPathFactory):
    settings = Settings(data_dir=tmp_path_factory.mktemp("real"), catalog=None, chroma="embedded")
    build_index(settings, progress=False)
    return load_knowledge(settings)


def test_bundled_movies_are_complete_and_linked():
    data = load_bundled_movies()
    with_facts = [item for item in data.items if item.has_facts]
    assert len(data.items) >= 6900 and len(with_facts) >= 6500
    inception = [i for i in data.items if i.title == "Inception"][0]
    assert inception.people["director"] == ["Christopher Nolan"] and "sci-fi" in inception.genres
    assert inception.movielens_id == 79132 and inception.ratings > 50
    assert sum(i.movielens_id is not None for i in data.items) >= 3800  # year_check == ok only
    assert len(data.triples) >= 56000 and len(data.interactions) == 9928 + 33


def test_real_index_has_graph_signals_and_vectors(real_knowledge):
    k = real_knowledge
    assert k.manifest["items"] >= 6900 and k.manifest["kg"]["edges"] >= 50000
    assert k.manifest["collab"]["items_with_rating_neighbours"] >= 2500
    inception = k.catalog.by_title("Inception")[0]
    neighbours = k.collab.neighbours(inception.id)
    titles = {k.catalog[i].title for i in sorted(neighbours, key=neighbours.get, reverse=True)[:15]}
    assert titles & {"The Dark Knight", "Interstellar", "The Matrix", "Shutter Island", "The Prestige"}
    nolan = k.kg.resolve("nolan", kind="person")[0][0]
    assert nolan == "person:Christopher Nolan"
    assert item_node(inception.id) in k.kg.items_with(nolan, "directed_by")


def test_real_embedder_finds_movies_by_meaning(real_knowledge):
    hits = real_knowledge.items.search("a thief enters people's dreams to plant an idea", k=10)
    assert "Inception" in [real_knowledge.catalog[i].title for i, _ in hits]
    toy = real_knowledge.items.search("toys come alive when kids leave the room", k=10)
    assert any(real_knowledge.catalog[i].title.startswith("Toy Story") for i, _ in toy)


def test_book_catalog_indexes_end_to_end(tmp_path: Path):
    settings = Settings(data_dir=tmp_path, catalog=TINY_BOOKS)
    report = build_index(settings, progress=False)
    assert report.built and report.manifest["items"] == 30 and not report.bad_rows
    k = load_knowledge(settings)
    le_guin = k.kg.resolve("le guin", kind="person")[0][0]
    assert len(k.kg.items_with(le_guin, "written_by")) >= 2
    hits = k.items.search("a wizard school and dragons on an archipelago", k=3)
    assert "A Wizard of Earthsea" in [k.catalog[i].title for i, _ in hits]
    assert any(r == "sequel_of" for _, _, r in k.kg.graph.edges(data="relation"))


def test_the_agent_on_the_real_catalog_ranks_fifty_and_asks_what_pays(real_knowledge):
    """iEvaLM judges a ranking of 50: the agent's trace holds at least that, for a list and for a question."""
    from crs_agent.agent import Recommender

    rec = Recommender(real_knowledge, top_k=10)
    first = rec.chat("Something like The Matrix (1999)", user_id="u", thread_id="t")
    assert len(first.trace.ranked) >= 50 and len(set(first.trace.ranked)) == len(first.trace.ranked)
    assert first.question and first.asked == "star", "a cast singles out the film: worth more than a list"
    answer = rec.chat("Keanu Reeves, Laurence Fishburne", user_id="u", thread_id="t")
    assert not answer.question and len(answer.trace.ranked) >= 50
    titles = [item.title for item in answer.items]
    assert {"The Matrix Reloaded", "The Matrix Revolutions"} & set(titles), titles
    assert answer.items[0].reason.startswith("Stars "), answer.items[0].reason
