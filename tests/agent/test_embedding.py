"""Embedding the agent from another program: the example script, and the graph that langgraph.json names."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from crs_agent.agent import state as agent_state

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def tiny_env(tiny_settings, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    env = {
        "CRS_AGENT_DATA_DIR": str(tiny_settings.data_dir),
        "CRS_AGENT_CATALOG": str(tiny_settings.catalog),
        "CRS_AGENT_EMBEDDING_MODEL": "hashing",
        "CRS_AGENT_LLM_BACKEND": "rules",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setattr(agent_state, "_default_deps", None)
    return env


def test_example_script_runs_in_a_separate_process(tiny_env: dict[str, str]):
    done = subprocess.run(
        [sys.executable, str(ROOT / "docs" / "examples" / "embed.py")],
        env={**os.environ, **tiny_env},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert any(line.startswith("- ") and "score" in line for line in lines), done.stdout
    assert any(line.startswith("profile:") and "liked_ids" in line for line in lines), done.stdout
    graph_line = next(line for line in lines if line.startswith("graph:"))
    assert graph_line != "graph: []"


def test_langgraph_json_names_a_graph_that_runs_with_a_json_context(tiny_env: dict[str, str]):
    config = json.loads((ROOT / "langgraph.json").read_text(encoding="utf-8"))
    file_part, _, attribute = config["graphs"]["crs_agent"].partition(":")
    spec = importlib.util.spec_from_file_location("served_graph", ROOT / file_part)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    graph = getattr(module, attribute)()
    out = graph.invoke({"message": "I loved Inception (2010), no horror"}, context={"user_id": "ana", "top_k": 2})
    items = out["reply"]["items"]
    assert len(items) == 2 and all("horror" not in item["genres"] for item in items)


def test_graph_without_deps_says_how_to_get_them(tiny_knowledge):
    from crs_agent.agent.graph import build_graph
    from crs_agent.tools import Toolkit

    graph = build_graph(Toolkit(tiny_knowledge).tools()).compile()
    agent_state.set_default_deps(None)
    with pytest.raises(TypeError, match="Recommender"):
        graph.invoke({"message": "hello"})
