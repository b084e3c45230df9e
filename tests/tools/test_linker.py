"""The deterministic linker on a tiny movie catalog (plus one slow test on the real bundled data)."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crs_agent.knowledge.graph import KnowledgeGraph
from crs_agent.knowledge.items import Catalog, Item
from crs_agent.tools.linker import Linker, LinkResult
from tests.conftest import TINY_BOOKS, TINY_MOVIES

EXTRA = [
    Item(id="20", title="Up", year=2009, genres=["animation", "family"], people={"director": ["Pete Docter"]}),
    Item(id="21", title="Her", year=2013, genres=["romance", "drama"], people={"director": ["Spike Jonze"]}),
    Item(id="22", title="Halloween", year=1978, genres=["horror"], popularity=0.9),
    Item(id="23", title="Halloween", year=2018, genres=["horror"], popularity=0.4),
    Item(id="24", title="Notting Hill", year=1999, genres=["romance", "comedy"], people={"star": ["Julia Roberts"]}),
]


def _build(items: list[Item]) -> Linker:
    catalog = Catalog(items)
    return Linker(catalog, KnowledgeGraph.build(catalog))


@pytest.fixture(scope="module")
def linker() -> Linker:
    from crs_agent.knowledge.loaders import _catalog_item

    return _build([*(_catalog_item(row) for row in TINY_MOVIES), *EXTRA])


def test_redial_mentions_known_and_unknown_ids(linker: Linker):
    result = linker.link("I loved @1 and @999999, also @4. Have you seen @1?")
    assert result.mentioned_ids == ["1", "4"]
    assert result.liked_ids == ["1", "4"]
    assert ("item", "1", "@1") in result.spans


def test_titles_with_and_without_year(linker: Linker):
    assert linker.link("Something like The Dark Knight or batman begins").mentioned_ids == ["6", "7"]
    result = linker.link("I want a movie like Inception (2010)")
    assert result.liked_ids == ["1"]
    assert ("item", "1", "Inception (2010)") in result.spans
    assert result.year_min is None and result.year_max is None  # a title's year is no constraint


def test_shared_title_prefers_the_year_then_popularity(linker: Linker):
    assert linker.link("I liked Halloween").mentioned_ids == ["22"]
    assert linker.link("I liked Halloween (2018)").mentioned_ids == ["23"]
    assert linker.link("I liked Halloween 2018 more").mentioned_ids == ["23"]
    assert linker.link("I liked Halloween (1978)").mentioned_ids == ["22"]


def test_short_common_titles_need_a_year_or_quotes(linker: Linker):
    for text in ("I grew up on cartoons", "Up for anything", "I loved Up", "Tell her I said hi", "Her favourite?"):
        assert linker.link(text).mentioned_ids == [], text
    assert linker.link("I loved Up (2009)").mentioned_ids == ["20"]
    assert linker.link('Have you seen "Up"? And \u201cHer\u201d?').mentioned_ids == ["20", "21"]


def test_single_word_titles_need_capitals_mid_sentence(linker: Linker):
    assert linker.link("i think inception is overrated").mentioned_ids == []
    assert linker.link("I think Inception is great").mentioned_ids == ["1"]
    assert linker.link("Paddington was lovely").mentioned_ids == ["5"]  # a word the catalog never uses


def test_common_word_multi_token_titles_need_title_case(linker: Linker):
    assert linker.link("I need to get out more").mentioned_ids == []
    assert linker.link("I loved Get Out").mentioned_ids == ["8"]
    assert linker.link("something like notting hill").mentioned_ids == ["24"]


def test_genres_and_synonyms(linker: Linker):
    assert linker.link("a funny sci fi movie").genres == ["comedy", "sci-fi"]
    assert linker.link("something scary for the kids").genres == ["horror", "family"]
    assert linker.link("a romcom or a thriller with suspense").genres == ["romance", "comedy", "thriller"]
    assert linker.link("I like Science Fiction and animated films").genres == ["sci-fi", "animation"]
    assert linker.link("a good western or a documentary").genres == []  # not genres of this catalog


def test_genre_exclusion(linker: Linker):
    assert linker.link("no horror please").exclude_genres == ["horror"]
    result = linker.link("nothing scary, I am with my kids")
    assert result.exclude_genres == ["horror"] and result.genres == ["family"]
    result = linker.link("no horror, but I love comedies")
    assert result.exclude_genres == ["horror"] and result.genres == ["comedy"]
    result = linker.link("I hate horror and love comedies")
    assert result.exclude_genres == ["horror"] and result.genres == ["comedy"]
    assert linker.link("anything but horror").exclude_genres == ["horror"]
    assert linker.link("I'm not a big fan of horror or crime").exclude_genres == ["horror", "crime"]
    assert linker.link("I do not want gory stuff").exclude_genres == ["horror"]
    assert linker.link("I don't mind horror").genres == ["horror"]
    assert linker.link("I don't know many dramas").exclude_genres == []


def test_books_catalog_matches_its_own_genre_names():
    from crs_agent.knowledge.loaders import load_catalog_file

    books = _build(load_catalog_file(TINY_BOOKS).items)
    result = books.link("Some science fiction or fantasy, nothing for children")
    assert result.genres == ["science fiction", "fantasy"]
    assert result.exclude_genres == ["children"]


def test_people_full_name_and_surname(linker: Linker):
    assert linker.link("anything with Heath Ledger or jordan peele").people == ["Heath Ledger", "Jordan Peele"]
    assert linker.link("something by Nolan").people == ["Christopher Nolan"]
    assert linker.link("Nolan is my favourite").people == ["Christopher Nolan"]
    assert linker.link("something by nolan").people == []  # a lower-case surname is not enough
    assert linker.link("something by Kubrick").people == []  # one item: not clearly a known director
    assert linker.link("something by Stanley Kubrick").people == ["Stanley Kubrick"]
    result = linker.link("I'm not into Christopher Nolan, maybe Julia Roberts?")
    assert result.exclude_people == ["Christopher Nolan"] and result.people == ["Julia Roberts"]


@pytest.mark.parametrize(
    ("text", "decades", "year_min", "year_max"),
    [
        ("something from the 80s", ["1980s"], 1980, 1989),
        ("a 1990s thriller", ["1990s"], 1990, 1999),
        ("'80s or 90's action", ["1980s", "1990s"], 1980, 1999),
        ("eighties movies", ["1980s"], 1980, 1989),
        ("before 2000 please", [], None, 1999),
        ("after 2010", [], 2011, None),
        ("anything since 2015", [], 2015, None),
        ("older than 1990", [], None, 1989),
        ("made before the 90s", [], None, 1989),
        ("I'm in my 20s and love 2012 as a year", [], None, None),
    ],
)
def test_decades_and_years(linker: Linker, text: str, decades: list[str], year_min: int | None, year_max: int | None):
    result = linker.link(text)
    assert (result.decades, result.year_min, result.year_max) == (decades, year_min, year_max)


@pytest.mark.parametrize(
    ("text", "era_min", "era_max"),
    [
        ("something recent", 2013, None),
        ("new movies only", 2013, None),
        ("old movies", None, 1979),
        ("the classics", None, 1979),
        ("old or new, I don't mind", None, None),
        ("something recent from the 90s", None, None),  # the decade is what stands
    ],
)
def test_vague_periods_are_a_loose_era_not_a_filter(
    linker: Linker, text: str, era_min: int | None, era_max: int | None
):
    result = linker.link(text)
    assert (result.year_min, result.year_max) == ((1990, 1999) if "90s" in text else (None, None))
    assert (result.era_min, result.era_max) == (era_min, era_max)


def test_disliked_and_seen_items(linker: Linker):
    result = linker.link("I didn't like Inception but I loved Interstellar.")
    assert result.disliked_ids == ["1"] and result.liked_ids == ["2"]
    assert set(result.seen_ids) == {"1", "2"}
    result = linker.link("I hated The Shining. The Matrix was boring. Paddington was not bad")
    assert result.disliked_ids == ["3", "4"] and result.liked_ids == ["5"]
    result = linker.link("I've seen The Matrix and already watched Paddington")
    assert result.seen_ids == ["4", "5"] and result.liked_ids == ["4", "5"]
    result = linker.link("I haven't seen Get Out yet, have you seen Inception?")
    assert result.mentioned_ids == ["8", "1"] and result.liked_ids == ["1"]
    assert result.seen_ids == [] and result.disliked_ids == []
    assert linker.link("not a fan of The Dark Knight").disliked_ids == ["6"]


def test_empty_and_garbage_input_never_raises(linker: Linker):
    rng = random.Random(0)
    garbage = [
        "",
        "   \n\t",
        "\x00\x01\x02 @ @@ ( ) (2010) 'quoted' \"\"",
        "\ud800 lone surrogate \udfff",
        "\U0001f600\U0001f37f \u65e5\u672c\u8a9e \u0627\u0644\u0639\u0631\u0628\u064a\u0629 Am\u00e9lie \u00bd",
        "".join(chr(rng.randrange(0x110000)) for _ in range(10_000)),
        "".join(rng.choice("abc XYZ @1 (1999) no not,.;!?'\"") for _ in range(10_000)),
        "Inception " * 50_000,
    ]
    for text in garbage:
        assert isinstance(linker.link(text), LinkResult)
    assert linker.link("") == LinkResult()


@settings(max_examples=200, deadline=None)
@given(text=st.text())
def test_any_string_links_without_error(linker: Linker, text: str):
    assert isinstance(linker.link(text), LinkResult)


@pytest.mark.slow
def test_real_bundled_catalog():
    from crs_agent.knowledge.loaders import load_bundled_movies

    data = load_bundled_movies()
    catalog = Catalog(data.items)
    linker = Linker(catalog, KnowledgeGraph.build(catalog, data.triples))
    inception = catalog.by_title("Inception")[0].id
    matrix = next(item.id for item in catalog.by_title("The Matrix") if item.year == 1999)
    troopers = catalog.by_title("Super Troopers")[0].id

    result = linker.link("something mind-bending like Inception (2010), but no horror")
    assert result.liked_ids == [inception] and result.exclude_genres == ["horror"]
    result = linker.link("I loved The Matrix and anything by Spielberg")
    assert result.liked_ids == [matrix] and result.people == ["Steven Spielberg"]
    assert linker.link("Hi I am looking for a movie like Super Troopers (2001)").liked_ids == [troopers]
    message = ("Hi! I loved The Matrix and Inception (2010), anything by Nolan or Tom Hanks, no horror, " * 4)[:300]
    result = linker.link(message)  # speed is measured by the benchmark, never asserted in a test
    assert {inception, matrix} <= set(result.liked_ids) and "Tom Hanks" in result.people
