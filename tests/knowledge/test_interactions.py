"""Interactions from the bundled training-split conversations, and from a user's interactions file."""

from __future__ import annotations

from pathlib import Path

import pytest

from crs_agent.knowledge import CatalogError
from crs_agent.knowledge.collab import suggestion_bank
from crs_agent.knowledge.embeddings import document_key, shipped_vectors
from crs_agent.knowledge.interactions import Interactions
from crs_agent.knowledge.loaders import bundled_data_dir, load_bundled_movies


@pytest.fixture(scope="module")
def bundled() -> Interactions:
    return Interactions.bundled(bundled_data_dir())


def test_bundled_conversations_join_mention_lists_and_dialogue_labels(bundled: Interactions):
    assert len(bundled) == 9928 + 33  # mention lists, plus dialogues that have no mention list
    assert len(bundled.validation_ids()) == 992
    assert all(int(c.id) < 20001 for c in bundled.conversations)  # never a test dialogue
    with_text = [c for c in bundled.conversations if c.suggestions]
    assert len(with_text) >= 4000
    reactions = {r for c in with_text for _, r in c.suggestions}
    assert reactions == {"accepted", "seen", "turned_down", "unknown"}
    first = next(c for c in bundled.conversations if c.id == "391")
    assert ("203371", "accepted") in first.suggestions and ("84779", 1) in first.mentions
    assert "I like animations like The Triplets of Belleville" in dict(first.contexts)["165710"]


def test_leaving_conversations_out_changes_every_count(bundled: Interactions):
    counts = bundled.counts()
    valid = bundled.without(bundled.validation_ids()).counts()
    assert sum(valid["mentioned"].values()) < sum(counts["mentioned"].values())
    assert sum(counts["accepted"].values()) < sum(counts["suggested"].values())


def test_ratings_file_becomes_one_conversation_per_user(tmp_path: Path):
    path = tmp_path / "i.csv"
    path.write_text("user,item,rating\nu1,a,5\nu1,b,1\nu2,a,\nu2,zz,3\n", encoding="utf-8")
    found = Interactions.from_ratings_file(path, known={"a", "b"})
    assert {c.id: c.mentions for c in found.conversations} == {"u1": (("a", 1),), "u2": (("a", 1),)}
    assert ("u2", "a", 1.0) in found.ratings and all(i != "zz" for _, i, _ in found.ratings)
    (tmp_path / "bad.csv").write_text("who,what\n1,2\n", encoding="utf-8")
    with pytest.raises(CatalogError, match="user,item"):
        Interactions.from_ratings_file(tmp_path / "bad.csv", known={"a"})
    with pytest.raises(CatalogError, match="does not exist"):
        Interactions.from_ratings_file(tmp_path / "nope.csv", known={"a"})


def test_shipped_vectors_cover_every_bundled_document():
    from crs_agent.knowledge import make_embedder

    shipped = shipped_vectors(make_embedder("all-MiniLM-L6-v2"))
    source = load_bundled_movies()
    missing = [i.id for i in source.items if document_key(i.document()) not in shipped]
    assert not missing, f"regenerate knowledge/data/item_vectors.npz: {len(missing)} documents changed"
    bank = suggestion_bank(source.interactions, {i.id for i in source.items})
    missing = [text for _, text in bank if document_key(text) not in shipped]
    assert len(bank) > 10000 and not missing, f"regenerate item_vectors.npz: {len(missing)} suggestion contexts"
    assert shipped_vectors(make_embedder("hashing")) == {}
