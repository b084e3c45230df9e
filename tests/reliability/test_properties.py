"""Property-based tests (hypothesis) on the tiny catalog: the linker and every tool's argument handling.

The linker never raises and names only what exists. Every tool, given arbitrary or malformed arguments,
either answers with an error message (exactly when its schema refuses the arguments) or returns a valid
artifact that keeps the hard filters, the excluded ids and the user's own memory.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from langchain_core.messages import ToolMessage
from langchain_core.tools import BaseTool
from pydantic import BaseModel, ValidationError

from crs_agent.knowledge import ItemFilter, Settings, build_index, load_knowledge
from crs_agent.tools import Candidate, Explanation, KgResult, MemoryHit, Toolkit
from crs_agent.tools import toolkit as toolkit_module
from crs_agent.tools.linker import Linker
from tests.conftest import TINY_MOVIES

IDS = [str(row["id"]) for row in TINY_MOVIES]
TITLES = [str(row["title"]) for row in TINY_MOVIES]
PEOPLE = sorted({name for row in TINY_MOVIES for names in row["people"].values() for name in names})
GENRES = sorted({genre for row in TINY_MOVIES for genre in row["genres"]})
EXAMPLES = settings(max_examples=60, deadline=None)


@pytest.fixture(scope="module")
def toolkit(tmp_path_factory: pytest.TempPathFactory) -> Toolkit:
    root = tmp_path_factory.mktemp("properties")
    catalog = root / "movies.jsonl"
    catalog.write_text("".join(json.dumps(row) + "\n" for row in TINY_MOVIES), encoding="utf-8")
    with pytest.MonkeyPatch.context() as env:  # as the tiny_settings fixture does, for a whole module
        for name in ("CRS_AGENT_DATA_DIR", "CRS_AGENT_CATALOG", "CRS_AGENT_CHROMA", "CRS_AGENT_EMBEDDING_MODEL"):
            env.delenv(name, raising=False)
        env.setenv("CRS_AGENT_CONFIG", str(root / "absent.toml"))
        config = Settings(data_dir=root / "data", catalog=Path(catalog), embedding_model="hashing")
        build_index(config, progress=False)
        knowledge = load_knowledge(config)
    knowledge.memory.remember("bob", "bob secretly loves The Shining", kind="preference")
    return Toolkit(knowledge)


@pytest.fixture(scope="module")
def tools(toolkit: Toolkit) -> dict[str, BaseTool]:
    return {tool.name: tool for tool in toolkit.tools()}


@pytest.fixture(scope="module")
def linker(toolkit: Toolkit) -> Linker:
    return Linker(toolkit.k.catalog, toolkit.k.kg)


# -- the linker -----------------------------------------------------------------------------------------------

WORDS = [
    *TITLES,
    *PEOPLE,
    *GENRES,
    *(f"@{i}" for i in IDS),
    *("@999999", "@0", "@", "(2010)", "(1980)", "90s", "80s", "before 2000", "after 2010", "recent", "classic"),
    *("no", "not", "never", "don't like", "loved", "hated", "seen", "haven't seen", "but", "and", "or", "nothing"),
    *(",", ".", "!", "?", '"', "'", "scary", "funny", "rom-com", "sci fi", "SCI-FI", "HORROR", "nolan", "kubrick"),
]
MESSAGES = st.one_of(
    st.text(max_size=200),
    st.lists(st.one_of(st.sampled_from(WORDS), st.text(max_size=12)), max_size=25).map(" ".join),
)


@EXAMPLES
@given(text=MESSAGES)
def test_the_linker_never_raises_and_names_only_what_exists(linker: Linker, text: str):
    result = linker.link(text)
    items = {*result.liked_ids, *result.disliked_ids, *result.seen_ids}
    assert items <= set(result.mentioned_ids) <= set(IDS)
    assert not set(result.liked_ids) & set(result.disliked_ids)
    assert set(result.genres) | set(result.exclude_genres) <= set(GENRES)
    assert not set(result.genres) & set(result.exclude_genres)
    assert set(result.people) | set(result.exclude_people) <= set(PEOPLE)
    if result.year_min is not None and result.year_max is not None:
        assert result.year_min <= result.year_max
    assert all(matched in text for _, _, matched in result.spans)


# -- the tools ------------------------------------------------------------------------------------------------

JUNK = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=6,
)
KNOWN_ID = st.sampled_from(IDS)
AN_ID = KNOWN_ID | st.sampled_from(["999999", "", "0", " 1", "@1"]) | st.text(max_size=6)
KNOWN_IDS = st.lists(KNOWN_ID, min_size=1, max_size=6)
SOME_IDS = st.lists(AN_ID, max_size=6)
A_GENRE = st.sampled_from([*GENRES, "western", " HORROR ", "", "sci fi"])
A_PERSON = st.sampled_from([*PEOPLE, "nolan", "Nobody Real", ""])
A_YEAR = st.none() | st.integers(1900, 2030) | st.integers(1700, 2200)
FILTERS = st.fixed_dictionaries(
    {},
    optional={
        "genres": st.lists(A_GENRE, max_size=2),
        "exclude_genres": st.lists(A_GENRE, max_size=4),
        "people": st.lists(A_PERSON, max_size=2),
        "exclude_people": st.lists(A_PERSON, max_size=2),
        "year_min": A_YEAR,
        "year_max": A_YEAR,
        "exclude_ids": SOME_IDS,
    },
)
PROFILE = st.fixed_dictionaries(
    {},
    optional={
        "liked_ids": SOME_IDS,
        "disliked_ids": SOME_IDS,
        "seen_ids": SOME_IDS,
        "rejected_ids": SOME_IDS,
        "genres": st.lists(A_GENRE, max_size=3),
        "exclude_genres": st.lists(A_GENRE, max_size=3),
        "people": st.lists(A_PERSON, max_size=2),
        "exclude_people": st.lists(A_PERSON, max_size=2),
        "year_min": A_YEAR,
        "year_max": A_YEAR,
        "wishes": st.lists(st.text(max_size=30), max_size=3),
    },
)
A_K = st.integers(-5, 80)
TEXT = st.text(max_size=60) | st.sampled_from([*TITLES, *PEOPLE, *GENRES, "   ", "\x00", "@1", "x" * 400])


def _args(required: dict[str, Any], optional: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    """Mostly plausible calls (every required argument there), else broken ones (any argument missing or junk)."""
    plausible = st.fixed_dictionaries(required, optional=optional)
    fields = {**required, **optional}
    broken = st.fixed_dictionaries({}, optional={name: value | JUNK for name, value in fields.items()})
    return st.one_of(plausible, plausible, broken)


ARGS = {
    "retrieve_candidates": _args({"query": TEXT}, {"filters": FILTERS, "k": A_K, "exclude_ids": SOME_IDS}),
    "kg_lookup": _args(
        {"entity": KNOWN_ID | st.sampled_from([*TITLES, *PEOPLE, *GENRES]) | TEXT},
        {
            "relation": st.sampled_from(["directed_by", "stars", "has_genre", "sequel_of", ""]),
            "target": st.none() | KNOWN_ID | TEXT,
            "hops": st.integers(0, 4),
        },
    ),
    "expand_from_liked": _args({"item_ids": KNOWN_IDS | SOME_IDS}, {"k": A_K, "exclude_ids": SOME_IDS}),
    "rank": _args({"candidate_ids": KNOWN_IDS | SOME_IDS}, {"profile": PROFILE, "k": A_K}),
    "explain": _args({"item_id": KNOWN_ID | AN_ID}, {"profile": PROFILE}),
    "remember": _args({"fact": TEXT}, {"kind": st.sampled_from(["preference", "feedback", "session", "gossip"])}),
    "recall": _args({"query": TEXT}, {"k": A_K}),
}
SCHEMAS: dict[str, type[BaseModel]] = {
    "retrieve_candidates": toolkit_module.RetrieveArgs,
    "kg_lookup": toolkit_module.KgArgs,
    "expand_from_liked": toolkit_module.ExpandArgs,
    "rank": toolkit_module.RankArgs,
    "explain": toolkit_module.ExplainArgs,
    "remember": toolkit_module.RememberArgs,
    "recall": toolkit_module.RecallArgs,
}


def _parsed(name: str, args: dict[str, Any]) -> BaseModel | None:
    try:
        return SCHEMAS[name].model_validate(args)
    except ValidationError:
        return None


def _check_candidates(found: list[Candidate], toolkit: Toolkit, flt: ItemFilter, k: int) -> None:
    ids = [c.item_id for c in found]
    assert len(ids) == len(set(ids)) and len(ids) <= k
    assert all(i in toolkit.k.catalog and flt.accepts(toolkit.k.catalog[i]) for i in ids)


def _check_artifact(name: str, parsed: Any, artifact: Any, toolkit: Toolkit) -> None:
    """What a successful call must satisfy, given the arguments its schema accepted."""
    if name == "retrieve_candidates":
        flt = parsed.filters.model_copy(update={"exclude_ids": [*parsed.filters.exclude_ids, *parsed.exclude_ids]})
        _check_candidates(artifact, toolkit, flt, parsed.k)
    elif name == "expand_from_liked":
        _check_candidates(artifact, toolkit, ItemFilter(exclude_ids=[*parsed.item_ids, *parsed.exclude_ids]), parsed.k)
    elif name == "rank":
        _check_candidates(artifact, toolkit, parsed.profile.hard_filter(), parsed.k)
        assert {c.item_id for c in artifact} <= set(parsed.candidate_ids)
        assert all(0.0 <= c.score <= 1.0 for c in artifact)
    elif name == "kg_lookup":
        assert isinstance(artifact, KgResult) and all(c.item_id in toolkit.k.catalog for c in artifact.related)
    elif name == "explain":
        assert isinstance(artifact, Explanation) and artifact.item_id == parsed.item_id and artifact.reasons
    elif name == "remember":
        assert {r.user_id for r in toolkit.k.memory.all(parsed.user_id)} == {parsed.user_id}
    elif name == "recall":
        own = {r.text for r in toolkit.k.memory.all(parsed.user_id)}
        assert all(isinstance(h, MemoryHit) and h.text in own for h in artifact) and len(artifact) <= parsed.k


@pytest.mark.parametrize("name", list(ARGS))
def test_every_tool_answers_any_arguments_with_a_message_or_a_valid_artifact(
    name: str, tools: dict[str, BaseTool], toolkit: Toolkit
):
    user = {"user_id": "alice"} if name in ("remember", "recall") else {}

    @EXAMPLES
    @given(args=ARGS[name])
    def check(args: dict[str, Any]) -> None:
        args = {**args, **user}
        message = tools[name].invoke({"type": "tool_call", "id": "call-1", "name": name, "args": args})
        assert isinstance(message, ToolMessage) and isinstance(message.content, str) and message.content
        parsed = _parsed(name, args)
        if message.status == "error":
            assert "Traceback" not in message.content
            return
        assert parsed is not None, f"{name} accepted arguments its schema refuses: {args!r}"
        _check_artifact(name, parsed, message.artifact, toolkit)

    check()
    if name == "recall":  # bob's memory exists, and alice never saw it
        assert "bob secretly loves The Shining" in {r.text for r in toolkit.k.memory.all("bob")}
