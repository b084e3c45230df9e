"""The vector store on a real Chroma server (``chroma run`` on 127.0.0.1): the store and tool tests that pass on
the embedded store run here again, unchanged, with ``tiny_settings`` pointing at the server."""

from __future__ import annotations

from pathlib import Path

import pytest

from crs_agent.agent import Recommender
from crs_agent.knowledge import build_index, index_status, load_knowledge
from crs_agent.knowledge.errors import VectorStoreUnavailableError
from crs_agent.knowledge.stores import make_client
from tests.knowledge.test_index_stores import (  # noqa: F401 - collected again, on the server
    test_build_is_idempotent_and_rebuilds_on_change,
    test_data_dir_survives_reload,
    test_half_built_index_never_looks_valid,
    test_item_filter_where_clause_agrees_with_exact_check,
    test_knowledge_bundle_is_consistent,
    test_memory_is_per_user,
    test_missing_file_or_corrupt_manifest_is_reported_with_the_fix,
    test_search_can_be_restricted_to_ids,
    test_semantic_search_with_hard_genre_filter,
)
from tests.scale.conftest import empty_chroma_server, free_port
from tests.tools.test_tools import (  # noqa: F401 - collected again, on the server
    TestRecall,
    TestRemember,
    TestRetrieveCandidates,
    test_excluded_ids_are_never_returned,
    test_hard_filters_are_never_violated,
    test_memory_never_crosses_users,
    toolkit,
)

pytestmark = pytest.mark.scale


@pytest.fixture
def tiny_settings(tiny_settings, chroma_server: str):
    """The tiny catalog's settings with ``chroma`` = the server, emptied first."""
    empty_chroma_server(chroma_server)
    return tiny_settings.model_copy(update={"chroma": chroma_server})


def _server_collections(url: str) -> set[str]:
    return {c if isinstance(c, str) else c.name for c in make_client(url, Path("unused")).list_collections()}


def test_the_index_lives_on_the_server_not_in_the_data_dir(tiny_settings, chroma_server: str) -> None:
    report = build_index(tiny_settings, progress=False)
    assert report.manifest["chroma"] == chroma_server
    assert _server_collections(chroma_server) == {report.manifest["items_collection"]}
    assert not tiny_settings.chroma_dir.exists()
    assert load_knowledge(tiny_settings).items.count() == 8


def test_a_collection_deleted_on_the_server_is_detected_and_rebuilt(tiny_settings, chroma_server: str) -> None:
    name = build_index(tiny_settings, progress=False).manifest["items_collection"]
    make_client(chroma_server, Path("unused")).delete_collection(name)
    assert index_status(tiny_settings) == "incomplete"
    assert build_index(tiny_settings, progress=False).built
    assert index_status(tiny_settings) == "ok" and load_knowledge(tiny_settings).items.count() == 8


def test_a_recommender_turn_remembers_through_the_server(tiny_knowledge, chroma_server: str) -> None:
    rec = Recommender(tiny_knowledge)
    reply = rec.chat("I loved Inception, but no horror please", user_id="ana", thread_id="t1")
    assert reply.items and all("horror" not in tiny_knowledge.catalog[i.id].genres for i in reply.items)
    # a second client of the same server (another app process, say) reads what the turn remembered
    stored = make_client(chroma_server, Path("unused")).get_collection("memory").get(where={"user_id": "ana"})
    assert {"likes Inception (2010)", "does not want horror"} <= set(stored["documents"])
    fresh = rec.chat("what should I watch tonight?", user_id="ana", thread_id="t2")  # a new thread starts from memory
    profile = rec.profile("ana", "t2")
    assert "1" in profile.liked_ids and "horror" in profile.exclude_genres
    assert all("horror" not in tiny_knowledge.catalog[i.id].genres for i in fresh.items)


def test_a_second_machine_building_the_same_index_leaves_the_first_one_serving(
    tiny_settings, chroma_server: str, tmp_path: Path
) -> None:
    """Two data directories (two app machines) on one server: the second build reuses the complete
    collection instead of dropping and refilling the one the first machine is searching."""
    build_index(tiny_settings, progress=False)
    first = load_knowledge(tiny_settings)
    second_settings = tiny_settings.model_copy(update={"data_dir": tmp_path / "machine-2"})
    report = build_index(second_settings, progress=False)
    assert report.built and report.manifest["items_collection"] == first.manifest["items_collection"]
    assert first.items.search("dream thief plants an idea", k=1)[0][0] == "1"
    assert load_knowledge(second_settings).items.count() == 8


def test_another_catalog_on_the_same_server_is_left_alone(
    tiny_settings, chroma_server: str, tmp_path: Path, tiny_catalog_file: Path
) -> None:
    """Movies and books indexed on one server: (re)building one never drops the other's collection."""
    from tests.conftest import TINY_BOOKS

    movies = build_index(tiny_settings, progress=False).manifest["items_collection"]
    books_settings = tiny_settings.model_copy(update={"data_dir": tmp_path / "books", "catalog": TINY_BOOKS})
    books = build_index(books_settings, progress=False).manifest["items_collection"]
    assert books != movies and load_knowledge(tiny_settings).items.count() == 8
    with tiny_catalog_file.open("a") as out:  # the movies change: their old collection, and only it, goes
        out.write('{"id": "9", "title": "Heat", "year": 1995, "genres": ["crime"]}\n')
    rebuilt = build_index(tiny_settings, progress=False).manifest["items_collection"]
    assert rebuilt not in (movies, books)
    assert _server_collections(chroma_server) == {rebuilt, books, "memory"}
    assert load_knowledge(books_settings).items.count() == 30


def test_a_server_that_is_not_running_is_a_typed_error(tiny_settings) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(VectorStoreUnavailableError, match="CRS_AGENT_CHROMA=embedded") as caught:
        build_index(tiny_settings.model_copy(update={"chroma": url}), progress=False)
    assert url in str(caught.value)
