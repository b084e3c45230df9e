"""Contract tests every tool passes (one mixin), then behaviour tests per tool, on the tiny catalog."""

from __future__ import annotations

import json
from typing import Any, ClassVar

import pytest
from langchain_core.messages import ToolMessage
from langchain_core.tools import BaseTool
from pydantic import BaseModel

from crs_agent.knowledge import ItemFilter
from crs_agent.tools import Candidate, Explanation, KgResult, MemoryHit, Profile, Toolkit, check_rephrasing
from crs_agent.tools.explain import grounded_entities


@pytest.fixture
def toolkit(tiny_knowledge) -> Toolkit:
    return Toolkit(tiny_knowledge)


def call(tool: BaseTool, args: dict[str, Any]) -> ToolMessage:
    return tool.invoke({"type": "tool_call", "id": "call-1", "name": tool.name, "args": args})


class ToolContract:
    """Each subclass names its tool, valid arguments, invalid ones and the artifact type."""

    name: ClassVar[str]
    valid: ClassVar[dict[str, Any]]
    invalid: ClassVar[list[dict[str, Any]]]
    artifact: ClassVar[type]
    injected: ClassVar[dict[str, Any]] = {}

    @pytest.fixture
    def tool(self, toolkit: Toolkit) -> BaseTool:
        return {t.name: t for t in toolkit.tools()}[self.name]

    def test_schema_is_serialisable_and_described(self, tool: BaseTool):
        schema = tool.tool_call_schema.model_json_schema()
        json.dumps(schema)
        assert tool.description and "\n" not in tool.description and tool.description[0].isupper()
        assert set(self.injected).isdisjoint(schema.get("properties", {}))  # the model never sees user_id

    def test_valid_call_returns_short_text_and_typed_artifact(self, tool: BaseTool):
        message = call(tool, {**self.valid, **self.injected})
        assert message.status == "success", message.content
        assert isinstance(message.content, str) and 0 < len(message.content) < 1500
        artifact = message.artifact
        items = artifact if isinstance(artifact, list) else [artifact]
        assert all(isinstance(a, self.artifact) for a in items)

    def test_bad_arguments_come_back_as_an_error_message(self, tool: BaseTool):
        for args in self.invalid:
            message = call(tool, {**args, **self.injected})
            assert message.status == "error", args
            assert isinstance(message.content, str) and message.content


class TestRetrieveCandidates(ToolContract):
    name = "retrieve_candidates"
    valid = {"query": "dream heist", "k": 5}
    invalid = [
        {"query": ""},
        {"query": "x", "k": 0},
        {"query": "x", "k": 51},
        {"query": "x", "filters": {"genres": ["western"]}},
    ]
    artifact = Candidate


class TestKgLookup(ToolContract):
    name = "kg_lookup"
    valid = {"entity": "nolan"}
    invalid = [{"entity": ""}, {"entity": "zzqqxx vvbb"}, {"entity": "1", "hops": 9}]
    artifact = KgResult


class TestExpandFromLiked(ToolContract):
    name = "expand_from_liked"
    valid = {"item_ids": ["1"], "k": 5}
    invalid = [{"item_ids": []}, {"item_ids": ["999"]}, {"item_ids": ["1"], "k": 100}]
    artifact = Candidate


class TestGenerateCandidates(ToolContract):
    name = "generate_candidates"
    valid = {"generators": ["kg", "bm25"], "profile": {"liked_ids": ["1"], "said": ["dream heists"]}, "k": 5}
    invalid = [
        {"generators": []},
        {"generators": ["nope"]},
        {"generators": ["kg"], "k": 0},
        {"generators": ["kg"], "k": 101},
    ]
    artifact = Candidate


def test_generated_candidates_follow_the_generators_and_the_hard_filter(toolkit: Toolkit):
    profile = Profile(liked_ids=["1"], seen_ids=["6"], exclude_genres=["horror"])
    _, found = toolkit.generate_candidates(["kg"], profile, k=10)
    ids = [c.item_id for c in found]
    assert {"2", "7"} <= set(ids), "Nolan's other films are the KG's neighbours of Inception"
    assert not {"1", "6"} & set(ids), "neither the liked film itself nor one seen"
    assert all("horror" not in toolkit.k.catalog[i].genres for i in ids)
    assert all(c.sources == ["generate_candidates:kg"] for c in found)


class TestRank(ToolContract):
    name = "rank"
    valid = {"candidate_ids": ["2", "3", "4"], "profile": {"liked_ids": ["1"]}}
    invalid = [
        {"candidate_ids": []},
        {"candidate_ids": ["nope"]},
        {"candidate_ids": ["3"], "profile": {"seen_ids": ["3"]}},
    ]
    artifact = Candidate


class TestExplain(ToolContract):
    name = "explain"
    valid = {"item_id": "2", "profile": {"liked_ids": ["1"]}}
    invalid = [{"item_id": ""}, {"item_id": "999"}]
    artifact = Explanation


class TestRemember(ToolContract):
    name = "remember"
    valid = {"fact": "likes slow-burn thrillers"}
    invalid = [{"fact": ""}, {"fact": "x", "kind": "gossip"}]
    artifact = str
    injected = {"user_id": "alice"}


class TestRecall(ToolContract):
    name = "recall"
    valid = {"query": "thrillers"}
    invalid = [{"query": ""}, {"query": "x", "k": 0}]
    artifact = MemoryHit
    injected = {"user_id": "alice"}


# -- behaviour ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "flt",
    [
        ItemFilter(exclude_genres=["horror"]),
        ItemFilter(genres=["sci-fi"], year_min=2000),
        ItemFilter(people=["Christopher Nolan"], exclude_ids=["1"]),
        ItemFilter(exclude_people=["Christopher Nolan"], year_max=2015),
    ],
)
def test_hard_filters_are_never_violated(toolkit: Toolkit, flt: ItemFilter):
    for query in ("haunted hotel", "dreams", "Inception", "batman", "family bear"):
        _, found = toolkit.retrieve_candidates(query, flt, k=8)
        assert all(flt.accepts(toolkit.k.catalog[c.item_id]) for c in found), (query, flt)


def test_a_named_title_is_always_found_first(toolkit: Toolkit):
    _, found = toolkit.retrieve_candidates("The Shining", k=3)
    assert found[0].item_id == "3" and found[0].sources == ["retrieve_candidates:title"]
    _, near = toolkit.retrieve_candidates("Interstelar", k=3)  # misspelt
    assert near[0].item_id == "2"


def test_excluded_ids_are_never_returned(toolkit: Toolkit):
    _, found = toolkit.retrieve_candidates("Inception", k=8, exclude_ids=["1", "2"])
    assert {"1", "2"}.isdisjoint(c.item_id for c in found)
    _, expanded = toolkit.expand_from_liked(["1"], k=8, exclude_ids=["6"])
    assert {"1", "6"}.isdisjoint(c.item_id for c in expanded)


def test_expansion_follows_the_knowledge_graph(toolkit: Toolkit):
    _, expanded = toolkit.expand_from_liked(["1"], k=3)
    assert {c.item_id for c in expanded} == {"2", "6", "7"}  # the other Nolan films
    assert all(c.sources[0].startswith("expand_from_liked") and c.components for c in expanded)


def test_rank_respects_profile_and_returns_calibrated_scores(toolkit: Toolkit):
    profile = Profile(liked_ids=["1"], exclude_genres=["horror"], seen_ids=["6"], wishes=["space travel"])
    _, ranked = toolkit.rank(["2", "3", "4", "5", "6", "7", "8"], profile, k=5)
    ids = [c.item_id for c in ranked]
    assert "3" not in ids and "8" not in ids and "6" not in ids  # horror and seen
    assert ids[0] == "2"  # Nolan + space
    assert all(0.0 <= c.score <= 1.0 for c in ranked)
    assert set(ranked[0].components) >= {"dense", "kg", "popular"}  # the generators that scored it


def test_calibrated_scores_do_not_depend_on_who_else_is_ranked(toolkit: Toolkit):
    profile = Profile(liked_ids=["1"])
    _, alone = toolkit.rank(["2"], profile)
    _, crowd = toolkit.rank(["2", "4", "5", "7"], profile)
    assert alone[0].score == next(c.score for c in crowd if c.item_id == "2")


def test_explanations_only_name_grounded_entities(toolkit: Toolkit):
    profile = Profile(liked_ids=["1"], genres=["sci-fi"], wishes=["a wormhole in space"])
    for item_id in ("2", "4", "6", "5"):
        _, explanation = toolkit.explain(item_id, profile)
        allowed = grounded_entities(toolkit.k, item_id, profile)
        named = [e.lower() for r in explanation.reasons for e in r.entities]
        assert explanation.reasons and set(named) <= allowed, (item_id, named)
    _, interstellar = toolkit.explain("2", profile)
    assert "Christopher Nolan" in interstellar.best and "Inception" in interstellar.best


def test_rephrasing_check_rejects_ungrounded_names(toolkit: Toolkit):
    _, explanation = toolkit.explain("2", Profile(liked_ids=["1"]))
    assert check_rephrasing("Another Nolan film like Inception.", explanation, ["Christopher Nolan", "Inception"])
    assert not check_rephrasing("Stars Tom Hanks.", explanation, ["Tom Hanks"])


def test_memory_never_crosses_users(toolkit: Toolkit):
    toolkit.remember("loves heist films", user_id="alice")
    toolkit.remember("hates heist films", user_id="bob")
    _, alice = toolkit.recall("heist", user_id="alice", k=10)
    assert [h.text for h in alice] == ["loves heist films"]
    _, carol = toolkit.recall("heist", user_id="carol")
    assert carol == []


def test_profile_filters_are_models_the_llm_can_fill():
    schema = Profile.model_json_schema()
    assert schema["properties"]["liked_ids"]["maxItems"] == 50
    assert isinstance(Profile.model_validate({"wishes": ["x"]}), BaseModel)
