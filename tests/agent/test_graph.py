"""The agent graph: shape, a multi-turn conversation on the rules backend, scripted LLM steps, persistence."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from langgraph.checkpoint.sqlite import SqliteSaver

from crs_agent.agent import Recommender
from crs_agent.agent.graph import build_graph
from crs_agent.agent.questions import QuestionPolicy
from crs_agent.tools import Toolkit
from tests.agent.fakes import ScriptedChatModel, ScriptExhausted

GRAPH_SHAPE = Path(__file__).with_name("graph.mmd")

LISTS_ONLY = QuestionPolicy(min_gain=2.0)  # no question is worth more than a list


@pytest.fixture
def rec(tiny_knowledge) -> Recommender:
    return Recommender(tiny_knowledge)


def test_graph_shape_is_pinned(tiny_knowledge):
    mermaid = build_graph(Toolkit(tiny_knowledge).tools()).compile().get_graph().draw_mermaid()
    assert mermaid == GRAPH_SHAPE.read_text(encoding="utf-8"), "graph wiring changed: update tests/agent/graph.mmd"


def test_thin_profile_gets_one_clarifying_question(rec: Recommender):
    reply = rec.chat("hello there", user_id="u", thread_id="t")
    assert reply.question and reply.items == [] and reply.text.endswith("?") and reply.asked == "liked"
    assert reply.trace.ranked, "ranked all the same: a replayed turn is scored on the ranking"


def test_multi_turn_conversation_respects_constraints(rec: Recommender):
    reply = rec.chat("I loved Inception (2010). Something in space, but no horror", user_id="u", thread_id="t")
    assert not reply.question and len(reply.items) == 3
    assert all("horror" not in item.genres and item.id != "1" for item in reply.items)
    assert all(0.0 <= item.score <= 1.0 and item.reason for item in reply.items)
    strategies = [p.strategy for p in reply.trace.paths]
    assert {"describe", "expand"} <= set(strategies) and strategies[-1] == "rank"
    assert reply.trace.verdicts[-1].passed
    first = {item.id for item in reply.items}
    again = rec.chat("seen those, something else", user_id="u", thread_id="t")
    assert again.trace.intent == "seen"  # a turn-down that also says they were seen
    assert first.isdisjoint(item.id for item in again.items)
    assert rec.profile("u", "t").rejected_ids == sorted(first, key=[i.id for i in reply.items].index)


def test_reasons_are_grounded_in_the_graph(rec: Recommender):
    reply = rec.chat("I loved Inception (2010)", user_id="u", thread_id="t")
    nolan = [item for item in reply.items if "Christopher Nolan" in item.people.get("director", [])]
    assert nolan and all("Christopher Nolan" in item.reason and "Inception" in item.reason for item in nolan)


def test_a_reason_names_the_person_asked_for_before_what_was_loved(rec: Recommender):
    reply = rec.chat("I loved Inception (2010). Something with Christian Bale?", user_id="u", thread_id="t")
    bale = [item for item in reply.items if "Christian Bale" in item.people.get("star", [])]
    assert bale and all(item.reason.startswith("Stars Christian Bale, as you asked") for item in bale)


def test_streaming_yields_tokens_traces_and_the_reply(rec: Recommender):
    events = list(rec.stream("I loved Inception (2010)", user_id="u", thread_id="s"))
    tokens = "".join(e.text for e in events if e.kind == "token")
    nodes = [e.node for e in events if e.kind == "trace"]
    assert events[-1].kind == "reply" and tokens == events[-1].reply.text
    assert nodes[0] == "understand" and "act" in nodes and nodes[-1] == "respond"


def test_users_and_threads_are_isolated(rec: Recommender):
    rec.chat("I loved Inception (2010), no horror", user_id="alice", thread_id="shared-id")
    bob = rec.chat("hello", user_id="bob", thread_id="shared-id")  # Bob names Alice's thread id
    assert bob.question
    assert rec.profile("bob", "shared-id").liked_ids == []
    assert rec.history("bob", "shared-id")[0] == ("human", "hello")
    assert rec.threads("bob") == ["shared-id"] and rec.threads("alice") == ["shared-id"]
    assert all(r.user_id == "alice" for r in rec.knowledge.memory.all("alice"))
    assert rec.knowledge.memory.all("bob") == []


def test_memory_seeds_a_new_conversation(rec: Recommender):
    rec.chat("I loved Inception (2010) but no horror please", user_id="carol", thread_id="first")
    profile = rec.profile("carol", "first")
    assert "1" in profile.liked_ids and "horror" in profile.exclude_genres
    reply = rec.chat("any ideas?", user_id="carol", thread_id="second")
    assert "1" in rec.profile("carol", "second").liked_ids
    assert all("horror" not in item.genres for item in reply.items)


def test_feedback_is_remembered_and_applied(rec: Recommender):
    rec.chat("I loved Inception (2010)", user_id="dan", thread_id="t")
    rec.feedback("dan", "2", liked=False, thread_id="t")
    assert "2" in rec.profile("dan", "t").disliked_ids
    assert any(r.kind == "feedback" and r.meta.get("item_id") == "2" for r in rec.knowledge.memory.all("dan"))
    with pytest.raises(ValueError):
        rec.feedback("dan", "nope", liked=True)


def test_conversation_survives_a_restart(tiny_knowledge, tmp_path: Path):
    db = tmp_path / "conversations.sqlite"
    first = Recommender(tiny_knowledge, checkpointer=SqliteSaver(sqlite3.connect(db, check_same_thread=False)))
    answered = first.chat("I loved Inception (2010)", user_id="u", thread_id="t")
    del first
    second = Recommender(tiny_knowledge, checkpointer=SqliteSaver(sqlite3.connect(db, check_same_thread=False)))
    assert second.history("u", "t")[-1] == ("ai", answered.text)
    assert "1" in second.profile("u", "t").liked_ids
    more = second.chat("seen those, something else", user_id="u", thread_id="t")
    assert set(second.profile("u", "t").rejected_ids) == {i.id for i in answered.items}
    assert more.trace.ranked and set(more.trace.ranked).isdisjoint(i.id for i in answered.items)
    assert more.items or more.asked, "the next turn is answered: a new list, or a question worth more than one"


def test_scripted_llm_fills_preferences_but_cannot_invent_items(tiny_knowledge):
    llm = ScriptedChatModel(
        [
            '{"intent": "ask", "liked_titles": ["The Matrix", "Not A Real Movie"], "disliked_titles": [], '
            '"genres": ["sci-fi", "made-up-genre"], "exclude_genres": ["horror"], "people": ["Nobody Real"]}',
            *['{"action": "answer", "strategy": "none", "rationale": "done"}'] * 1,
            "Here are a few picks you might enjoy.",
        ]
    )
    rec = Recommender(tiny_knowledge, llm)
    reply = rec.chat("recommend me something", user_id="u", thread_id="t")
    profile = rec.profile("u", "t")
    assert profile.genres == ["sci-fi"] and profile.exclude_genres == ["horror"]
    assert profile.liked_ids == []  # a title the user never said is dropped, even a real one
    assert profile.people == []  # an unknown person is dropped, not trusted
    assert reply.items and all("horror" not in i.genres for i in reply.items)
    assert reply.text.startswith("Here are a few picks you might enjoy.")
    assert any(p.rationale.startswith("[policy]") for p in reply.trace.paths)  # invalid LLM choices fell back


def test_llm_cannot_flip_what_the_user_said(tiny_knowledge):
    llm = ScriptedChatModel(
        [
            '{"intent": "answer", "liked_titles": ["the matrix"], "disliked_titles": ["Inception"], '
            '"genres": [], "exclude_genres": [], "people": []}',
            *['{"action": "answer", "strategy": "none", "rationale": "done"}'] * 2,
            "Enjoy these.",
        ]
    )
    rec = Recommender(tiny_knowledge, llm, llm_reads_every_message=True)
    rec.chat("I loved Inception (2010) and the matrix", user_id="u", thread_id="t")
    profile = rec.profile("u", "t")
    assert "1" in profile.liked_ids and "1" not in profile.disliked_ids  # the linker's polarity stands
    assert "4" in profile.liked_ids  # said by the user: the LLM may add it


def test_llm_reads_only_what_the_linker_left(tiny_knowledge):
    # everything in this message is linked with a clear polarity: no LLM reading (one plan call, the opener)
    plan = '{"action": "answer", "strategy": "none", "rationale": "done"}'
    llm = ScriptedChatModel([plan, "Here are some picks for you."])
    rec = Recommender(tiny_knowledge, llm, questions=LISTS_ONLY)  # about the LLM, not asking
    reply = rec.chat("I loved Inception, no horror please", user_id="u", thread_id="t")
    assert reply.items and reply.text.startswith("Here are some picks for you.")
    assert not any("Extract" in str(call[0].content) for call in llm.calls)
    # a message the linker finds nothing in is a gap: the LLM reads it (and may add a real genre)
    llm = ScriptedChatModel(
        [
            '{"intent": "ask", "liked_titles": [], "disliked_titles": [], "genres": ["comedy"], '
            '"exclude_genres": [], "people": []}',
            plan,
            "Here are some picks for you.",
        ]
    )
    rec = Recommender(tiny_knowledge, llm)
    rec.chat("something to cheer me up tonight", user_id="v", thread_id="t")
    assert "Extract" in str(llm.calls[0][0].content)
    assert rec.profile("v", "t").genres == ["comedy"]


def test_fake_model_runs_out_loudly(tiny_knowledge):
    rec = Recommender(tiny_knowledge, ScriptedChatModel([]))
    with pytest.raises(ScriptExhausted):
        rec.chat("I loved Inception (2010)", user_id="u", thread_id="t")


@pytest.mark.parametrize("sqlite", [False, True])
def test_thread_ids_never_reach_another_users_thread(tiny_knowledge, tmp_path: Path, sqlite: bool):
    saver = SqliteSaver(sqlite3.connect(tmp_path / "c.sqlite", check_same_thread=False)) if sqlite else None
    rec = Recommender(tiny_knowledge, checkpointer=saver)
    rec.chat("I loved Inception (2010)", user_id="a", thread_id="b::c")
    assert rec.history("a::b", "c") == []  # the same "a::b::c" string, another user
    rec.chat("hello", user_id="a::b", thread_id="c")
    rec.chat("hello", user_id="a", thread_id="second")
    assert rec.threads("a") == ["second", "b::c"] and rec.threads("a::b") == ["c"] and rec.threads("a:") == []


def test_llm_plan_choice_is_followed_and_bounded(tiny_knowledge):
    # the planner asks once per turn; a valid choice is followed and recorded as the LLM's
    llm = ScriptedChatModel(['{"next": "popular"}', "Here are some picks for you."])
    rec = Recommender(tiny_knowledge, llm, questions=LISTS_ONLY)  # about the LLM, not asking
    reply = rec.chat("I loved Inception, something mind-bending", user_id="u", thread_id="t")
    first = reply.trace.paths[0]
    assert first.strategy == "popular" and first.rationale.startswith("[llm]")
    assert sum("next search step" in str(call[0].content) for call in llm.calls) == 1
    assert reply.items


def test_the_packaged_small_models_do_not_read_messages_unless_asked(tiny_knowledge, tmp_path):
    """evals/bench_llm.py: SmolLM2-135M's reading of what the learned reading left open lowered the sentiment F1."""
    from crs_agent.agent.llm_llamacpp import LlamaCppChat, embedded_gguf_path
    from crs_agent.agent.state import Deps

    settings = tiny_knowledge.settings
    embedded = LlamaCppChat(model_path=str(embedded_gguf_path()))  # not loaded: nothing is generated here
    own = LlamaCppChat(model_path=str(tmp_path / "qwen2.5-7b-instruct-q4_k_m.gguf"))
    assert Deps.configured(settings, embedded)["llm_reads_gaps"] is False
    assert Deps.configured(settings, own)["llm_reads_gaps"] is True
    assert Deps.configured(settings, ScriptedChatModel([]))["llm_reads_gaps"] is True  # a server's model, say
    chosen = settings.model_copy(update={"llm_reads_gaps": True})
    assert Deps.configured(chosen, embedded)["llm_reads_gaps"] is True


def test_the_search_paths_together_run_every_generator_of_the_core():
    """Opening every path pools what the ``tools`` system pools: no core generator is left off all paths,
    and every one is a name the tools' schemas accept."""
    from typing import get_args

    from crs_agent.agent.planner import GENERATORS as PATHS
    from crs_agent.tools.candidates import GENERATORS
    from crs_agent.tools.toolkit import GeneratorName

    on_paths = {name for names in PATHS.values() for name in names}
    assert on_paths == {g.name for g in GENERATORS}
    assert on_paths == set(get_args(GeneratorName))
