from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from crs_agent.knowledge import (
    IndexBusyError,
    IndexIncompleteError,
    IndexMissingError,
    build_index,
    index_status,
    load_knowledge,
)
from crs_agent.knowledge.index import _build_lock
from crs_agent.knowledge.stores import genre_key


def test_build_is_idempotent_and_rebuilds_on_change(tiny_settings, tiny_catalog_file: Path):
    first = build_index(tiny_settings, progress=False)
    assert first.built and first.manifest["items"] == 8
    assert index_status(tiny_settings) == "ok"
    again = build_index(tiny_settings, progress=False)
    assert not again.built and "up to date" in again.summary()
    with tiny_catalog_file.open("a") as out:
        out.write(json.dumps({"id": "9", "title": "Heat", "year": 1995, "genres": ["crime"]}) + "\n")
    assert index_status(tiny_settings) == "stale"
    third = build_index(tiny_settings, progress=False)
    assert third.built and third.manifest["items"] == 9
    # the old build and its Chroma collection are gone; only one build directory remains
    assert len(list((tiny_settings.data_dir / "builds").iterdir())) == 1


def test_half_built_index_never_looks_valid(tiny_settings):
    build_index(tiny_settings, progress=False)
    target = tiny_settings.index_dir.resolve()
    (target / "manifest.json").unlink()  # as if the build died before its last step
    assert index_status(tiny_settings) == "missing"
    with pytest.raises(IndexMissingError, match='Run "crs-agent index"'):
        load_knowledge(tiny_settings)


def test_missing_file_or_corrupt_manifest_is_reported_with_the_fix(tiny_settings):
    build_index(tiny_settings, progress=False)
    (tiny_settings.index_dir / "kg.pkl").unlink()
    with pytest.raises(IndexIncompleteError, match="--rebuild"):
        load_knowledge(tiny_settings)
    (tiny_settings.index_dir / "manifest.json").write_text("{truncated")
    with pytest.raises(IndexIncompleteError, match="corrupted"):
        load_knowledge(tiny_settings)
    assert build_index(tiny_settings, progress=False).built  # and a build repairs it


def test_missing_chroma_directory_is_detected(tiny_settings):
    build_index(tiny_settings, progress=False)
    from chromadb.api.client import SharedSystemClient

    shutil.rmtree(tiny_settings.chroma_dir)
    SharedSystemClient.clear_system_cache()
    assert index_status(tiny_settings) == "incomplete"


def test_second_builder_is_refused_clearly(tiny_settings):
    with _build_lock(tiny_settings.data_dir):
        with pytest.raises(IndexBusyError, match="Another crs-agent process"):
            build_index(tiny_settings, progress=False)


def test_knowledge_bundle_is_consistent(tiny_knowledge):
    k = tiny_knowledge
    assert len(k.catalog) == len(k.vectors) == k.items.count() == 8
    assert k.row["1"] == 0
    assert k.kg.stats()["item"] == 8


def test_semantic_search_with_hard_genre_filter(tiny_knowledge):
    hits = tiny_knowledge.items.search("dream thief plants an idea", k=3)
    assert hits[0][0] == "1"
    no_horror = tiny_knowledge.items.search("haunted hotel madness", k=8, where={genre_key("horror"): False})
    assert no_horror and all("horror" not in tiny_knowledge.catalog[i].genres for i, _ in no_horror)
    recent = tiny_knowledge.items.search("space", k=8, where={"year": {"$gte": 2010}})
    assert {i for i, _ in recent} == {"1", "2", "5", "8"}


def test_memory_is_per_user(tiny_knowledge):
    memory = tiny_knowledge.memory
    memory.remember("alice", "loves Christopher Nolan films", kind="preference")
    memory.remember("alice", "disliked The Shining", kind="feedback")
    memory.remember("bob", "loves horror films", kind="preference")
    alice = memory.recall("alice", "horror films", k=10)
    assert {r.user_id for r in alice} == {"alice"} and len(alice) == 2
    assert [r.text for r in memory.recall("bob", "Nolan", k=10)] == ["loves horror films"]
    assert [r.kind for r in memory.all("alice", kind="feedback")] == ["feedback"]
    assert memory.recall("carol", "anything") == []
    with pytest.raises(ValueError):
        memory.recall("", "anything")
    memory.forget("alice")
    assert memory.all("alice") == [] and len(memory.all("bob")) == 1


def test_data_dir_survives_reload(tiny_settings):
    build_index(tiny_settings, progress=False)
    k1 = load_knowledge(tiny_settings)
    k1.memory.remember("u", "likes westerns")
    k2 = load_knowledge(tiny_settings)
    assert [r.text for r in k2.memory.all("u")] == ["likes westerns"]
    assert os.path.islink(tiny_settings.index_dir)


def test_embedding_cache_embeds_only_new_documents(tmp_path: Path):
    from crs_agent.knowledge.embeddings import EmbeddingCache, HashingEmbedder

    calls: list[int] = []

    class Counting(HashingEmbedder):
        def __call__(self, input):  # noqa: A002
            calls.append(len(input))
            return super().__call__(input)

    cache = EmbeddingCache(tmp_path, Counting())
    first = cache.embed(["a cat", "a dog", "a cat"])
    assert calls == [2] and first.shape == (3, 256)
    second = EmbeddingCache(tmp_path, Counting()).embed(["a dog", "a bird"])
    assert calls == [2, 1]
    assert (second[0] == first[1]).all()
    cache.path.write_bytes(b"damaged")
    assert EmbeddingCache(tmp_path, Counting()).embed(["a dog"]).shape == (1, 256)


def test_item_filter_where_clause_agrees_with_exact_check(tiny_knowledge):
    from crs_agent.knowledge import ItemFilter

    k = tiny_knowledge
    cases = [
        ItemFilter(exclude_genres=["horror"], year_min=2000),
        ItemFilter(genres=["sci-fi", "action"]),
        ItemFilter(year_max=1999),
    ]
    for flt in cases:
        hits = {i for i, _ in k.items.search("film", k=8, where=flt.where(k.manifest["genres"]))}
        exact = {item.id for item in k.catalog if flt.accepts(item)}
        assert hits == exact, flt
    people = ItemFilter(people=["christopher nolan"], exclude_people=["Christian Bale"], exclude_ids=["2"])
    assert {item.id for item in k.catalog if people.accepts(item)} == {"1"}
    with pytest.raises(ValueError, match="unknown genre"):
        ItemFilter(genres=["western"]).where(k.manifest["genres"])
    with pytest.raises(ValueError, match="after"):
        ItemFilter(year_min=2010, year_max=2000)


def test_search_can_be_restricted_to_ids(tiny_knowledge):
    hits = tiny_knowledge.items.search("space", k=5, ids=["3", "5"])
    assert {i for i, _ in hits} == {"3", "5"}
    assert tiny_knowledge.items.search("space", ids=[]) == []
