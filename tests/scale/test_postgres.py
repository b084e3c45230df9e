"""Conversations in PostgreSQL (``langgraph-checkpoint-postgres``): shared by several app processes.

Needs ``CRS_AGENT_TEST_POSTGRES`` (``.ci/run`` starts Debian's PostgreSQL and sets it); each session works in a
fresh schema. The unreachable-server test needs no server.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from crs_agent.agent import Recommender
from crs_agent.agent.persistence import make_checkpointer, thread_ids
from crs_agent.knowledge import Settings, build_index
from crs_agent.knowledge.errors import ConversationStoreUnavailableError
from tests.conftest import TINY_MOVIES
from tests.scale.conftest import empty_chroma_server, free_port

pytestmark = pytest.mark.scale
ROOT = Path(__file__).resolve().parents[2]


def test_an_unreachable_postgres_fails_at_start_up_without_showing_the_password(tiny_settings) -> None:
    url = f"postgresql://crs:s3cret-pw@127.0.0.1:{free_port()}/nowhere"
    with pytest.raises(ConversationStoreUnavailableError) as caught:
        make_checkpointer(tiny_settings.model_copy(update={"checkpoint": url}))
    message = str(caught.value)
    assert "postgresql://crs@127.0.0.1" in message and "/nowhere" in message and "CRS_AGENT_CHECKPOINT" in message
    assert "s3cret-pw" not in message


def test_conversations_survive_a_restart_and_list_with_one_query(tiny_knowledge, postgres_url: str) -> None:
    settings = tiny_knowledge.settings.model_copy(update={"checkpoint": postgres_url})
    first = Recommender(tiny_knowledge, checkpointer=make_checkpointer(settings))
    first.chat("I loved Inception", user_id="restart-ana", thread_id="a")
    first.chat("something funny", user_id="restart-ana", thread_id="b")
    first.chat("no horror please", user_id="restart-ana", thread_id="a")
    first.chat("hello", user_id="restart-bob", thread_id="a")
    again = Recommender(tiny_knowledge, checkpointer=make_checkpointer(settings))  # a new process, say
    assert type(again.checkpointer).__name__ == "PostgresSaver"
    assert thread_ids(again.checkpointer, "restart-ana::") == ["a", "b"]  # newest first, only ana's
    assert again.threads("restart-ana") == ["a", "b"] and again.threads("restart-bob") == ["a"]
    assert [text for _, text in again.history("restart-ana", "a")][0::2] == ["I loved Inception", "no horror please"]
    assert "horror" in again.profile("restart-ana", "a").exclude_genres


# -- two app processes, one conversation ------------------------------------------------------------------


class AppProcess:
    """``tests/scale/app_worker.py`` in its own Python process."""

    def __init__(self, settings: dict[str, Any], log: Path) -> None:
        self.log = log.open("w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.scale.app_worker", json.dumps(settings)],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.log,
            text=True,
        )
        self.hello: dict[str, Any] = {}

    def wait_ready(self) -> None:
        self.hello = self._read()

    def _read(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        assert line, f"the app process exited with {self.proc.poll()}: see {self.log.name}"
        answer = json.loads(line)
        assert "error" not in answer, answer["error"]
        return answer

    def ask(self, **request: str) -> dict[str, Any]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(request) + "\n")
        self.proc.stdin.flush()
        return self._read()

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()  # the process exits at the end of its input
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
        self.log.close()


@pytest.fixture(scope="module")
def two_apps(
    chroma_server: str, postgres_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[list[AppProcess]]:
    """Two app processes on one data directory, the Chroma server and PostgreSQL (the rules backend)."""
    directory = tmp_path_factory.mktemp("two-apps")
    catalog = directory / "movies.jsonl"
    catalog.write_text("".join(json.dumps(row) + "\n" for row in TINY_MOVIES), encoding="utf-8")
    fields = {"data_dir": str(directory / "data"), "catalog": str(catalog), "embedding_model": "hashing"}
    fields |= {"chroma": chroma_server, "checkpoint": postgres_url, "llm_backend": "rules"}
    empty_chroma_server(chroma_server)
    with pytest.MonkeyPatch.context() as env:
        env.setenv("CRS_AGENT_CONFIG", str(directory / "absent.toml"))  # no config file, in the apps too
        env.setenv("CRS_AGENT_ASK_MIN_GAIN", "2")  # a list every turn: on 12 movies any question pays
        build_index(Settings(**fields), progress=False)
        apps: list[AppProcess] = []
        try:
            apps += [AppProcess(fields, directory / f"app-{n}.log") for n in (1, 2)]  # both start at once
            for app in apps:
                app.wait_ready()
            yield apps
        finally:
            for app in apps:
                app.close()


# Eight movies: two lists of three and two exhaust what is left once each list not taken is turned down.
TURNS = ["I loved Inception, by Christopher Nolan", "no horror please, and I already saw The Dark Knight"]


def test_two_processes_serve_one_conversation_alternately(two_apps: list[AppProcess]) -> None:
    first, second = two_apps
    assert first.hello["pid"] != second.hello["pid"]
    assert first.hello["checkpointer"] == second.hello["checkpointer"] == "PostgresSaver"
    replies = []
    for n, message in enumerate(TURNS):
        app = two_apps[n % 2]  # process 1 answers turn 1, process 2 turn 2
        replies.append(app.ask(op="chat", user="ana", thread="t1", message=message))
        assert replies[-1]["pid"] == app.hello["pid"] and replies[-1]["items"]
    # the second process answered with what the first one had heard and shown
    assert not {"3", "8"} & set(replies[1]["items"])  # no horror
    assert not {"1", "6"} & set(replies[1]["items"])  # seen: Inception (turn 1), The Dark Knight (turn 2)
    assert not set(replies[0]["items"]) & set(replies[1]["items"]), "the first list was not taken: turned down"
    for app in two_apps:
        state = app.ask(op="state", user="ana", thread="t1")
        assert [text for kind, text in state["history"] if kind == "human"] == TURNS
        assert [text for kind, text in state["history"] if kind == "ai"] == [r["text"] for r in replies]
        profile = state["profile"]
        assert "1" in profile["liked_ids"] and "6" in profile["seen_ids"]
        assert "horror" in profile["exclude_genres"] and "Christopher Nolan" in profile["people"]


def test_two_processes_share_the_users_memory(two_apps: list[AppProcess]) -> None:
    first, second = two_apps
    first.ask(op="chat", user="ben", thread="t1", message="I loved Inception")
    second.ask(op="chat", user="ben", thread="t1", message="no horror please")
    second.ask(op="chat", user="ben", thread="t2", message="what should I watch tonight?")  # a new thread...
    state = first.ask(op="state", user="ben", thread="t2")  # ...starts from what both processes remembered
    assert {"likes Inception (2010)", "does not want horror"} <= set(state["memory"])
    assert "1" in state["profile"]["liked_ids"] and "horror" in state["profile"]["exclude_genres"]
    assert state["threads"] == ["t2", "t1"] == second.ask(op="state", user="ben", thread="t1")["threads"]
