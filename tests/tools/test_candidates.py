"""Contract tests every candidate generator passes (one mixin, lenskit's style), then the pool and the mask."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import pytest

from crs_agent.knowledge import CollaborativeSignals, ItemFilter
from crs_agent.knowledge.interactions import Conversation, Interactions
from crs_agent.tools import Profile
from crs_agent.tools.candidates import (
    GENERATORS,
    Bm25Text,
    ContextKnn,
    ContextText,
    DenseText,
    DialogueCollab,
    EarlierNamed,
    Generator,
    KgNeighbours,
    PeopleNamed,
    PoolConfig,
    PopularInScope,
    PopularSuggested,
    RatingNeighbours,
    Resources,
    Turn,
    make_generators,
    pool,
)
from crs_agent.tools.ranking.features import FEATURE_NAMES, features

# Conversations over the tiny movie catalog (tests/conftest.py): Nolan fans, horror fans, a family.
CONVERSATIONS = [
    Conversation(
        "c1", (("1", 1), ("2", 1), ("6", 1)), (("6", "accepted"),), contexts=(("6", "a dark superhero film"),)
    ),
    Conversation(
        "c2", (("1", 1), ("6", 1), ("7", 1)), (("7", "accepted"),), contexts=(("7", "batman origins please"),)
    ),
    Conversation("c3", (("3", 1), ("8", 1)), (("8", "accepted"),), contexts=(("8", "something scary and smart"),)),
    Conversation("c4", (("2", 1), ("4", 1), ("1", 0)), (("4", "seen"),)),
    Conversation("c5", (("5", 1), ("2", 1)), (("5", "accepted"),), contexts=(("5", "a film for my kids"),)),
]
RATINGS = [(u, i, r) for u in ("u1", "u2", "u3") for i, r in (("1", 5.0), ("2", 4.5), ("6", 4.0), ("5", 1.0))]


@pytest.fixture
def resources(tiny_knowledge) -> Resources:
    """The tiny index with collaborative signals from a handful of conversations and ratings."""
    signals = CollaborativeSignals.build(
        tiny_knowledge.catalog.ids(), RATINGS, Interactions(CONVERSATIONS), embed=tiny_knowledge.embedder
    )
    return Resources.of(tiny_knowledge).with_collab(signals)


class GeneratorContract:
    """Each subclass names its generator and a profile that gives it something to find."""

    generator: ClassVar[type[Generator]]
    profile: ClassVar[Profile]

    @pytest.fixture
    def gen(self, resources: Resources) -> Generator:
        return self.generator(resources)

    def test_finds_something_for_its_profile(self, gen: Generator):
        assert gen.available()
        assert gen.candidates(self.profile, n=10)

    def test_respects_the_hard_filter(self, gen: Generator):
        found = gen.candidates(self.profile, n=10)
        banned = sorted(found)[:1]
        flt = ItemFilter(exclude_ids=banned, exclude_genres=["horror"], year_min=1990)
        again = gen.candidates(self.profile, flt, n=10)
        catalog = gen.resources.knowledge.catalog
        assert all(flt.accepts(catalog[i]) for i in again)
        assert not set(banned) & set(again)
        seen = self.profile.model_copy(update={"seen_ids": list(found)})
        assert not set(gen.candidates(seen, n=10)) & set(found)  # seen items never come back

    def test_returns_at_most_n_finite_scores_best_first(self, gen: Generator):
        found = gen.candidates(self.profile, n=2)
        assert len(found) <= 2
        assert all(np.isfinite(v) for v in found.values())
        assert list(found.values()) == sorted(found.values(), reverse=True)

    def test_is_deterministic(self, gen: Generator):
        assert gen.candidates(self.profile, n=5) == gen.candidates(self.profile, n=5)

    def test_handles_an_empty_profile(self, gen: Generator):
        found = gen.candidates(Profile(), n=5)
        assert isinstance(found, dict) and len(found) <= 5


class TestDialogueCollab(GeneratorContract):
    generator = DialogueCollab
    profile = Profile(liked_ids=["1"], mentioned_ids=["1"])


class TestRatingNeighbours(GeneratorContract):
    generator = RatingNeighbours
    profile = Profile(liked_ids=["1"], mentioned_ids=["1"])


class TestBm25Text(GeneratorContract):
    generator = Bm25Text
    profile = Profile(said=["something with a wormhole in space, or about dreams"])


class TestContextText(GeneratorContract):
    generator = ContextText
    profile = Profile(said=["my kids want a film", "maybe a superhero or batman"])


class TestContextKnn(GeneratorContract):
    generator = ContextKnn
    profile = Profile(said=["hello there", "a film for my kids please"])


class TestDenseText(GeneratorContract):
    generator = DenseText
    profile = Profile(said=["a haunted hotel"], heard=["Do you like horror?"])


class TestKgNeighbours(GeneratorContract):
    generator = KgNeighbours
    profile = Profile(liked_ids=["1"], mentioned_ids=["1"])


class TestPeopleNamed(GeneratorContract):
    generator = PeopleNamed
    profile = Profile(people=["Christopher Nolan", "Christian Bale"])


class TestPopularSuggested(GeneratorContract):
    generator = PopularSuggested
    profile = Profile()


class TestPopularInScope(GeneratorContract):
    generator = PopularInScope
    profile = Profile(genres=["action"])


class TestEarlierNamed(GeneratorContract):
    generator = EarlierNamed
    profile = Profile(suggested_ids=["2", "4"], liked_ids=["4"], mentioned_ids=["4", "6"], seen_ids=["6"])


def test_every_generator_has_a_contract_test():
    tested = {cls.generator for cls in GeneratorContract.__subclasses__()}
    assert tested == set(GENERATORS)


def test_people_named_together_outrank_one_of_them(resources: Resources):
    found = PeopleNamed(resources).candidates(Profile(people=["Christopher Nolan", "Christian Bale"]), n=5)
    assert set(list(found)[:2]) == {"6", "7"}  # both credit Nolan and Bale; Inception and Interstellar only Nolan
    assert found["6"] > found["1"]


def test_kg_neighbours_follow_shared_people_and_relations(resources: Resources):
    found = KgNeighbours(resources).candidates(Profile(liked_ids=["7"], mentioned_ids=["7"]), n=3)
    assert next(iter(found)) == "6"  # Nolan, Bale and the sequel relation


def test_popular_counts_suggestions_not_mentions(resources: Resources):
    found = PopularSuggested(resources).candidates(Profile(), n=8)
    assert list(found)[:1] != ["1"]  # Inception is mentioned most but never suggested
    assert found["6"] > found.get("1", 0.0)


def test_context_knn_votes_for_what_followed_the_nearest_words(resources: Resources):
    found = ContextKnn(resources).candidates(Profile(said=["hi", "something scary and smart"]), n=5)
    assert next(iter(found)) == "8"  # the suggestion that followed exactly these words
    knn = ContextKnn(resources, ContextKnn.Config(neighbours=1))
    assert list(knn.candidates(Profile(said=["batman origins please"]), n=5)) == ["7"]  # one neighbour: one vote
    older = ContextKnn(resources, ContextKnn.Config(seeker_messages=1))
    latest = older.candidates(Profile(said=["something scary and smart", "batman origins please"]), n=5)
    assert next(iter(latest)) == "7"  # only the latest turn is the query


def test_context_knn_needs_the_bank(tiny_knowledge):
    signals = CollaborativeSignals.build(tiny_knowledge.catalog.ids(), RATINGS, Interactions(CONVERSATIONS))
    assert not ContextKnn(Resources.of(tiny_knowledge).with_collab(signals)).available()  # built without embed


def test_out_of_fold_signals_recount_the_popularity_prior(tiny_knowledge):
    catalog = Resources.of(tiny_knowledge)

    def over(conversations: list[Conversation]) -> Resources:
        signals = CollaborativeSignals.build(tiny_knowledge.catalog.ids(), RATINGS, Interactions(conversations))
        return catalog.with_collab(signals)

    def prior(res: Resources) -> dict[str, float]:
        return dict(zip(res.arrays.ids, res.popularity().tolist(), strict=True))

    assert catalog.popularity() is catalog.arrays.popularity  # serving: the catalog's own prior
    res = over([c for c in CONVERSATIONS if c.id != "c3"])
    everything, held_out = prior(over(CONVERSATIONS)), prior(res)
    assert everything["8"] > 0 and held_out["8"] == 0.0  # only c3 named it: without c3 nothing says it is known
    assert held_out["3"] == 0.0 and held_out["1"] == 1.0  # still scaled by the most popular item
    assert everything["6"] > everything["8"]  # mentions and ratings both count
    turn = Turn(Profile(said=["something scary"]), res)
    pooled = pool(turn, make_generators(res), PoolConfig(size=8))
    rows = features(turn, pooled)
    assert np.allclose(rows[:, FEATURE_NAMES.index("popularity")], res.popularity()[pooled.rows])  # the ranker's too


def test_generators_without_their_signal_are_left_out(tiny_knowledge):
    names = {g.name for g in make_generators(Resources.of(tiny_knowledge))}
    assert {"collab", "ratings", "context", "context_knn"}.isdisjoint(names)  # a catalog without interactions
    assert {"bm25", "dense", "kg", "people", "popular", "popular_genre", "dialogue"} <= names


def test_pool_fuses_every_generator_under_the_filter(resources: Resources):
    profile = Profile(liked_ids=["1"], mentioned_ids=["1"], seen_ids=["1"], exclude_genres=["horror"], said=["space"])
    turn = Turn(profile, resources)
    pooled = pool(turn, make_generators(resources), PoolConfig(size=4))
    ids = [resources.arrays.ids[r] for r in pooled.rows]
    assert len(ids) == 4 and "1" not in ids and not {"3", "8"} & set(ids)
    assert list(pooled.fused) == sorted(pooled.fused, reverse=True)
    assert np.isfinite(pooled.ranks["kg"]).any()


@pytest.mark.parametrize(
    "flt",
    [
        ItemFilter(),
        ItemFilter(genres=["sci-fi", "action"]),
        ItemFilter(exclude_genres=["horror", "comedy"], year_max=2010),
        ItemFilter(people=["christopher nolan"], exclude_ids=["1"]),
        ItemFilter(exclude_people=["Christian Bale"], year_min=2000),
        ItemFilter(genres=["western"]),
    ],
)
def test_the_vectorised_mask_is_item_filter_accepts(resources: Resources, flt: ItemFilter):
    catalog = resources.knowledge.catalog
    expected = [flt.accepts(catalog[i]) for i in resources.arrays.ids]
    assert resources.arrays.mask(flt).tolist() == expected
