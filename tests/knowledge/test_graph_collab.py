from __future__ import annotations

import numpy as np
from scipy import sparse

from crs_agent.knowledge import Catalog, KnowledgeGraph, entity_node, item_node
from crs_agent.knowledge.collab import CollabConfig, CollaborativeSignals, cosine_topk, ease_topk
from crs_agent.knowledge.interactions import Conversation, Interactions
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


def _conversations(*lists: list[str]) -> Interactions:
    return Interactions([Conversation(str(n), tuple((i, 1) for i in items)) for n, items in enumerate(lists)])


def test_collaborative_signals_neighbours_from_ratings_and_conversations():
    ids = ["a", "b", "c", "d"]
    ratings = [(u, i, r) for u in ("1", "2", "3") for i, r in (("a", 5.0), ("b", 4.5), ("c", 1.0))]
    signals = CollaborativeSignals.build(ids, ratings, _conversations(["a", "d"], ["a", "d"], ["b", "c"]))
    assert max(signals.neighbours("a"), key=signals.neighbours("a").get) == "b"
    assert signals.similarity("a", "c") <= 0 or "c" not in signals.neighbours("a")
    assert list(signals.neighbours("a", "sessions")) == ["d"]
    assert signals.counts["mentioned"].tolist() == [2, 1, 1, 2]
    assert signals.neighbours("zzz") == {}


def test_ease_matches_the_closed_form_and_keeps_positive_top_k():
    lists = [["a", "b"], ["a", "b", "c"], ["b", "c"], ["d"], ["a", "b"]]
    index = {i: n for n, i in enumerate("abcd")}
    config = CollabConfig(ease_lambda=1.0, topk=10)
    weights = ease_topk(lists, index, config).toarray()
    x = np.zeros((5, 4))
    for n, items in enumerate(lists):
        x[n, [index[i] for i in items]] = 1
    inverse = np.linalg.inv(x.T @ x + np.eye(4))
    dense = -inverse / np.diag(inverse)
    np.fill_diagonal(dense, 0)
    assert np.allclose(weights, np.where(dense > 0, dense, 0), atol=1e-5)
    assert weights[index["a"], index["b"]] > weights[index["a"], index["c"]]
    limited = ease_topk(lists, index, CollabConfig(ease_lambda=1.0, topk=10, ease_max_items=2)).toarray()
    assert np.count_nonzero(limited[:, [index["c"], index["d"]]]) == 0  # only the two most named items


def test_signals_round_trip_through_the_index_files(tmp_path):
    interactions = Interactions(
        [Conversation("1", (("a", 1), ("b", 0)), (("b", "turned_down"),), contexts=(("b", "hi"),))]
    )
    signals = CollaborativeSignals.build(["a", "b"], [], interactions, embed=lambda texts: [[3.0, 4.0]] * len(texts))
    signals.save(tmp_path)
    loaded = CollaborativeSignals.load(tmp_path)
    assert loaded.contexts == ["", "hi"] and loaded.counts["suggested"].tolist() == [0, 1]
    assert loaded.bank_items == ["b"] and np.allclose(loaded.bank_vectors, [[0.6, 0.8]], atol=1e-3)  # unit rows
    assert loaded.counts["accepted"].tolist() == [0, 0] and not loaded.has("ratings")
