"""Slow: the hints simulator on every bundled dev case over the real catalog and KG (no embeddings)."""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest

from crs_agent.evals.cases import cases_from_file, eval_data
from crs_agent.evals.simulators import REJECT, HintsSimulator, target_facts
from crs_agent.evals.transcripts import Turn
from crs_agent.knowledge import Catalog, KnowledgeGraph, normalize_title
from crs_agent.knowledge.loaders import load_bundled_movies
from tests.evals.test_simulators import QUESTIONS

pytestmark = pytest.mark.slow


def _names_title(text: str, title: str) -> bool:
    """An independent check: the normalised title as whole words of the normalised text."""
    key = normalize_title(title)
    return bool(key) and re.search(rf"\b{re.escape(key)}\b", normalize_title(text)) is not None


def test_the_hints_user_never_names_a_target_and_only_says_true_things():
    data = load_bundled_movies()
    catalog = Catalog(data.items)
    knowledge = SimpleNamespace(catalog=catalog, kg=KnowledgeGraph.build(catalog, data.triples))
    simulator = HintsSimulator(knowledge)  # type: ignore[arg-type]
    cases = cases_from_file(eval_data("dev_cases.jsonl"), catalog).cases
    assert len(cases) == 931
    hinted = 0
    for case in cases:
        titles = [catalog[t].title for t in case.targets]
        facts = target_facts(knowledge, case)  # type: ignore[arg-type]
        true_values = {v for values in facts.values() for v in values}
        asked, refused = simulator.start(case), simulator.start(case)
        said = [asked.opening().text]
        said += [asked.respond(Turn(user="", reply=q, question=True)).text for q in QUESTIONS]
        said += [refused.respond(Turn(user="", reply="1. A movie", ranked=["x"])).text for _ in range(6)]
        for text in said:
            assert not any(_names_title(text, title) for title in titles if len(normalize_title(title)) > 3), (
                case.id,
                text,
            )
        for text in said[len(QUESTIONS) + 1 :]:
            hint = text.removeprefix(REJECT).strip()
            if hint:
                hinted += 1
                assert any(value in hint for value in true_values), (case.id, hint)
    assert hinted > 0.8 * 6 * len(cases)
