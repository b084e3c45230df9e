from __future__ import annotations

import numpy as np
import pytest
from scipy import sparse

from crs_agent.knowledge import Catalog, KnowledgeGraph, entity_node, item_node
from crs_agent.knowledge.collab import CollaborativeSignals, cosine_topk
from tests.conftest import TINY_MOVIES


def _kg() -> KnowledgeGraph:
    from crs_agent.knowledge.loaders import _catalog_item

    return KnowledgeGraph.build(Catalog(_catalog_item(row) for row in TINY_MOVIES))


def test_graph_has_typed_nodes_and_edges():
    kg = _kg()
    assert kg.kind(item_node("1")) == "item"
    assert kg.kind(entity_node("person", "Christopher Nolan")) == "person"
    assert kg.kind(entity_node("genre", "horror")) == "genre"
    assert kg.kind(entity_node("decade", "2010s")) == "decade"
    relations = {r for _, _, r in kg.graph.edges(data="relation")}
    assert {"has_genre", "directed_by", "stars", "released_in", "sequel_of"} <= relations


def test_facts_and_reverse_navigation():
    kg = _kg()
    facts = kg.facts(item_node("1"))
    assert facts["directed_by"] == ["Christopher Nolan"]
    assert set(facts["has_genre"]) == {"sci-fi", "thriller", "action"}
    nolan = entity_node("person", "Christopher Nolan")
    assert sorted(kg.items_with(nolan, "directed_by")) == [item_node(i) for i in ("1", "2", "6", "7")]


def test_items_sharing_a_relation():
    kg = _kg()
    shared = kg.items_sharing(item_node("1"), "directed_by")
    assert set(shared) == {item_node("2"), item_node("6"), item_node("7")}
    assert shared[item_node("2")] == [("directed_by", entity_node("person", "Christopher Nolan"))]


def test_paths_are_shortest_and_typed():
    kg = _kg()
    paths = kg.paths(item_node("1"), item_node("2"))
    assert paths and all(len(p) == 2 for p in paths)
    mids = {p[0].target for p in paths}
    assert entity_node("person", "Christopher Nolan") in mids
    first = paths[0]
    assert first[0].forward and not first[1].forward
    assert kg.paths(item_node("1"), item_node("1")) == []


def test_three_hop_paths_and_item_relations():
    kg = _kg()
    ledger = entity_node("person", "Heath Ledger")
    # Heath Ledger -> The Dark Knight -sequel_of-> Batman Begins: two hops through an item relation.
    two = kg.paths(ledger, item_node("7"))
    assert [[s.relation for s in p] for p in two] == [["stars", "sequel_of"]]
    # Heath Ledger -> The Dark Knight -> (Nolan | action) -> Inception: three hops, none shorter.
    three = kg.paths(ledger, item_node("1"), max_len=3)
    assert three and all(len(p) == 3 for p in three)
    assert {p[1].target for p in three} == {entity_node("person", "Christopher Nolan"), entity_node("genre", "action")}
    assert kg.paths(ledger, item_node("1"), max_len=2) == []


def test_resolve_finds_people_fuzzily():
    kg = _kg()
    assert kg.resolve("nolan", kind="person")[0][0] == entity_node("person", "Christopher Nolan")
    assert kg.resolve("kubrik")[0][0] == entity_node("person", "Stanley Kubrick")
    assert kg.resolve("horror", kind="genre")[0] == (entity_node("genre", "horror"), 1.0)
    assert kg.resolve("   ") == []


def test_cosine_topk_matches_dense_cosine():
    users_items = np.array([[1, 1, 0, 0], [1, 1, 1, 0], [0, 1, 1, 0], [0, 0, 0, 1]], dtype=np.float32)
    sims = cosine_topk(sparse.csr_matrix(users_items), k=2, min_support=1).toarray()
    dense = users_items.T @ users_items / np.outer(*(2 * [np.linalg.norm(users_items, axis=0)]))
    np.fill_diagonal(dense, 0)
    assert np.allclose(sims[0, 1], dense[0, 1])
    assert (sims[3] == 0).all()  # item 3 co-occurs with nothing
    assert (np.count_nonzero(sims, axis=1) <= 2).all()


def test_collaborative_signals_neighbours_from_ratings_and_sessions():
    ids = ["a", "b", "c", "d"]
    ratings = [(u, i, r) for u in ("1", "2", "3") for i, r in (("a", 5.0), ("b", 4.5), ("c", 1.0))]
    sessions = [["a", "d"], ["a", "d"], ["b", "c"]]
    signals = CollaborativeSignals.build(ids, ratings, sessions)
    assert max(signals.neighbours("a"), key=signals.neighbours("a").get) == "b"
    assert signals.similarity("a", "c") <= 0 or "c" not in signals.neighbours("a")
    assert signals.neighbours("a", "sessions") == {"d": pytest.approx(1.0)}
    assert signals.neighbours("zzz") == {}
