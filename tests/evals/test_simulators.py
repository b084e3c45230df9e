"""The user simulators: the hints one is truthful and never names a target; the llm one's leak check."""

from __future__ import annotations

import pytest

from crs_agent.evals.cases import Case
from crs_agent.evals.leaks import TitleGuard
from crs_agent.evals.simulators import (
    ACCEPT,
    REJECT,
    HintsSimulator,
    LlmSimulator,
    asked_about,
    target_facts,
)
from crs_agent.evals.transcripts import Shown, Turn
from tests.agent.fakes import ScriptedChatModel, ScriptExhausted
from tests.conftest import TINY_MOVIES

QUESTIONS = [
    "What's a movie you loved recently, or what are you in the mood for (a genre, a feeling, an actor)?",
    "Is there a movie you liked that is close to what you want?",
    "Any genre you're in the mood for?",
    "Do you prefer a particular period, say 90s or recent?",
    "Is there an actor or actress you'd like to see?",
    "Any director whose films you like?",
    "Any writer you like?",
    "Tell me more?",
]


def _question(text: str) -> Turn:
    return Turn(user="...", reply=text, question=True)


def _rejected(ids: list[str]) -> Turn:
    titles = {m["id"]: m["title"] for m in TINY_MOVIES}
    return Turn(user="...", reply="Here are my picks", ranked=ids, shown=[Shown(id=i, title=titles[i]) for i in ids])


def test_questions_are_read_in_the_order_they_ask():
    assert asked_about(QUESTIONS[0]) == ["liked", "genre", "star"]
    assert asked_about("Any director or actor you like?") == ["director", "star"]
    assert asked_about("Anything to avoid, or a period you prefer (say, 90s or recent)?") == ["decade"]
    assert asked_about("How are you?") == []


def test_hints_user_answers_truthfully_from_the_targets_facts(tiny_knowledge):
    case = Case(id="c", opening="I want a good movie", history=["2"], targets=["1"])  # Inception
    user = HintsSimulator(tiny_knowledge).start(case)
    assert user.opening().text == "I want a good movie"
    assert user.respond(_question("Any director whose films you like?")).text == (
        "Ideally directed by Christopher Nolan."
    )
    assert user.respond(_question("Is there a movie you liked?")).text == "I really liked Interstellar."
    assert user.respond(_question("Is there an actor you'd like to see?")).text == (
        "I'd like something with Leonardo DiCaprio."
    )
    first = user.respond(_rejected(["5", "3"])).text
    assert first == f"{REJECT} I'd like a sci-fi movie.", "turned down: the most general new hint first"
    assert user.respond(_rejected(["5"])).text == f"{REJECT} Something from the 2010s."
    assert user.respond(_rejected(["5"])).text == f"{REJECT} I'd like something with Tom Hardy."


def test_hints_user_runs_out_of_hints_honestly(tiny_knowledge):
    user = HintsSimulator(tiny_knowledge).start(Case(id="c", opening="hi", targets=["5"]))
    said = [user.respond(_rejected(["1"])).text for _ in range(12)]
    assert said[-1] == REJECT and len(set(said)) > 4
    facts = target_facts(tiny_knowledge, Case(id="c", opening="hi", targets=["5"]))
    assert facts["director"] == ["Paul King"] and facts["decade"] == ["2010s"]


@pytest.mark.parametrize("target", [m["id"] for m in TINY_MOVIES])
def test_hints_user_never_names_a_target(tiny_knowledge, target: str):
    others = [m["id"] for m in TINY_MOVIES if m["id"] != target]
    case = Case(id="c", opening=f"I loved {tiny_knowledge.catalog[target].title}!", history=others, targets=[target])
    user = HintsSimulator(tiny_knowledge).start(case)
    guard = TitleGuard([tiny_knowledge.catalog[target].title])
    opening = user.opening()
    assert opening.leaked and not guard.leaks(opening.text), "a leaking opening is redacted and counted"
    for question in QUESTIONS * 3:
        assert not guard.leaks(user.respond(_question(question)).text)
        assert not guard.leaks(user.respond(_rejected(others)).text)


def test_hints_user_skips_a_true_fact_that_would_name_the_target(tmp_path, monkeypatch):
    from crs_agent.knowledge import Settings, build_index, load_knowledge

    catalog = tmp_path / "movies.jsonl"
    catalog.write_text(
        '{"id": "1", "title": "Selena", "year": 1997, "genres": ["drama"], "people": {"star": ["Selena"]}}\n'
        '{"id": "2", "title": "Selena Returns", "year": 1999, "genres": ["drama"]}\n',
        encoding="utf-8",
    )
    monkeypatch.setenv("CRS_AGENT_CONFIG", str(tmp_path / "absent.toml"))
    settings = Settings(data_dir=tmp_path / "data", catalog=catalog, embedding_model="hashing")
    build_index(settings, progress=False)
    knowledge = load_knowledge(settings)
    user = HintsSimulator(knowledge).start(Case(id="c", opening="hi", history=["2"], targets=["1"]))
    said = [user.respond(_question("Any actor? Or a movie you liked?")).text for _ in range(3)]
    assert all("Selena" not in text for text in said)


def _llm_user(knowledge, replies: list[str], attempts: int = 3):
    model = ScriptedChatModel(replies)
    sim = LlmSimulator(knowledge, model, attempts=attempts)
    case = Case(id="c", opening="Something mind-bending please", history=["2"], targets=["1"])
    return sim.start(case, seed=7), model


def test_llm_user_regenerates_a_reply_that_names_the_target(tiny_knowledge):
    user, model = _llm_user(
        tiny_knowledge, ["Honestly I want Inception!", "Something about dreams, by Nolan.", "A sci-fi thriller."]
    )
    reply = user.respond(_rejected(["4", "6"]))
    assert reply.text == "Something about dreams, by Nolan." and reply.leaked
    persona, request = (m.content for m in model.calls[0])
    assert "never say its title" in persona and "Interstellar" in persona, "the history is in the persona"
    assert request.endswith(
        "does not want The Matrix or The Dark Knight, and asks for a sci-fi movie and a thriller movie."
    )
    assert all("Inception" not in m.content for m in model.calls[0]), "the prompt describes the target, never names it"
    user.respond(Turn(user="Some sci-fi from the 2010s", reply="Who should be in it?", question=True))
    offered = model.calls[-1][1].content
    assert offered.endswith(
        '"Who should be in it?". The fan wants a thriller movie and a movie with Leonardo DiCaprio.'
    )


def test_llm_user_redacts_when_every_draft_leaks(tiny_knowledge):
    user, _ = _llm_user(tiny_knowledge, ["Inception!", "inception, please", "I mean Incepton"], attempts=3)
    reply = user.respond(_rejected(["4"]))
    assert reply.leaked and "ncept" not in reply.text.lower() and "that movie" in reply.text


def test_llm_user_clean_reply_is_not_a_leak_and_calls_once(tiny_knowledge):
    user, model = _llm_user(tiny_knowledge, ["Seeker: Not those. Something with Leonardo DiCaprio. Thanks. More"])
    reply = user.respond(_question("Any actor you like?"))
    assert reply.text == "Not those. Something with Leonardo DiCaprio." and not reply.leaked
    with pytest.raises(ScriptExhausted):
        user.respond(_question("Any director?"))
    assert ACCEPT and len(model.calls) == 2
