"""Faults, for real: ``kill -9`` of a child process in the middle of a turn or of an index build, and two
processes on one data directory.

Every child runs ``_CHILD``, a script this module writes to ``tmp_path``. ``FAULT_BLOCK=module:attr`` makes
that function (a tool, a build step) write ``FAULT_MARKER`` and hang once the file ``FAULT_FLAG`` exists;
the test waits for the marker and sends SIGKILL, so the kill always lands inside that function.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from crs_agent.agent import Recommender
from crs_agent.agent.cli import main
from crs_agent.knowledge import Settings
from crs_agent.knowledge.errors import DataDirBusyError
from crs_agent.knowledge.locks import SERVE_LOCK, acquire_serve_lock, needs_serve_lock, serve_lock

_CHILD = textwrap.dedent(
    '''
    import functools, importlib, json, os, sys, time
    from pathlib import Path

    def hang_in(target):
        """FAULT_BLOCK: make module:attr (or module:Class.attr) hang, after writing the marker, once the flag exists."""
        module, _, attr = target.partition(":")
        owner = importlib.import_module(module)
        *path, name = attr.split(".")
        for part in path:
            owner = getattr(owner, part)
        real = getattr(owner, name)

        @functools.wraps(real)
        def hanging(*args, **kwargs):
            if os.path.exists(os.environ["FAULT_FLAG"]):
                Path(os.environ["FAULT_MARKER"]).write_text(str(os.getpid()))
                time.sleep(3600)
            return real(*args, **kwargs)

        setattr(owner, name, hanging)

    if os.environ.get("FAULT_BLOCK"):
        hang_in(os.environ["FAULT_BLOCK"])

    if sys.argv[1] == "turns":  # one JSON turn a line on stdin, one JSON answer a line on stdout
        from contextlib import redirect_stdout

        from crs_agent.agent import Recommender

        with redirect_stdout(sys.stderr):  # "building the index..." is not an answer
            rec = Recommender.from_settings()
        print(json.dumps({"ready": os.getpid()}), flush=True)
        for line in sys.stdin:
            turn = json.loads(line)
            if turn.get("hang"):
                Path(os.environ["FAULT_FLAG"]).touch()
            reply = rec.chat(turn["message"], user_id=turn["user"], thread_id=turn["thread"])
            profile = rec.profile(turn["user"], turn["thread"]).model_dump()
            answer = {"text": reply.text, "items": [i.id for i in reply.items], "profile": profile}
            print(json.dumps(answer), flush=True)
        rec.close()
    else:  # the command line, e.g. "index --rebuild" or "ui --port 7861"
        from crs_agent.agent.cli import main

        sys.exit(main(sys.argv[1:]))
    '''
)


def _env(data_dir: Path, catalog: Path, tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CRS_AGENT_", "FAULT_"))}
    env.update(
        CRS_AGENT_DATA_DIR=str(data_dir),
        CRS_AGENT_CATALOG=str(catalog),
        CRS_AGENT_EMBEDDING_MODEL="hashing",
        CRS_AGENT_LLM_BACKEND="rules",
        CRS_AGENT_CHECKPOINT="sqlite",
        CRS_AGENT_CONFIG=str(tmp_path / "absent.toml"),
        CRS_AGENT_ASK_MIN_GAIN="2",  # lists, not questions, on the tiny catalog: these tests are about faults
        FAULT_FLAG=str(tmp_path / "hang.flag"),
        FAULT_MARKER=str(tmp_path / "hang.marker"),
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        **extra,
    )
    return env


class Child:
    """A child process running ``_CHILD``; always killed at teardown."""

    def __init__(self, tmp_path: Path, env: dict[str, str], *args: str) -> None:
        script = tmp_path / "child.py"
        script.write_text(_CHILD, encoding="utf-8")
        self.marker = Path(env["FAULT_MARKER"])
        self.marker.unlink(missing_ok=True)
        self.proc = subprocess.Popen(
            [sys.executable, str(script), *args],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def send(self, **turn: object) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(turn) + "\n")
        self.proc.stdin.flush()

    def answer(self, **turn: object) -> dict:
        self.send(**turn)
        return self.line()

    def line(self) -> dict:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        assert line, f"the child died: {self.stderr()}"
        return json.loads(line)

    def stderr(self) -> str:
        self.proc.kill()
        assert self.proc.stderr is not None
        return self.proc.stderr.read()[-3000:]

    def wait_for(self, ready: Callable[[], bool], what: str) -> None:
        """Poll ``ready()`` until it holds; fail with the child's stderr if the child exits first."""
        while not ready():
            if self.proc.poll() is not None:
                pytest.fail(f"the child exited ({self.proc.returncode}) before {what}: {self.stderr()}")
            time.sleep(0.05)

    def kill9_in_the_hang(self) -> None:
        self.wait_for(self.marker.exists, "reaching the hanging function")
        self.proc.send_signal(signal.SIGKILL)
        assert self.proc.wait() == -signal.SIGKILL

    def finish(self) -> tuple[int, str, str]:
        out, err = self.proc.communicate()
        return self.proc.returncode, out, err

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()


@pytest.fixture
def spawn(tmp_path: Path, tiny_settings: Settings) -> Iterator[Callable[..., Child]]:
    """``spawn(*args, **env)`` starts a child on the tiny catalog's data directory."""
    children: list[Child] = []

    def start(*args: str, **extra: str) -> Child:
        env = _env(tiny_settings.data_dir, tiny_settings.catalog, tmp_path, **extra)
        children.append(Child(tmp_path, env, *args))
        return children[-1]

    yield start
    for child in children:
        child.close()


@pytest.fixture
def rules_settings(tiny_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The tiny settings, also as the environment of in-process ``crs-agent`` commands."""
    monkeypatch.setenv("CRS_AGENT_EMBEDDING_MODEL", "hashing")
    monkeypatch.setenv("CRS_AGENT_LLM_BACKEND", "rules")
    return tiny_settings.model_copy(update={"llm_backend": "rules", "checkpoint": "sqlite"})


# -- kill -9 in the middle of a turn ----------------------------------------------------------------------------

_TURNS = [
    ("ana", "t1", "I loved Inception (2010), no horror"),
    ("ana", "t2", "something from the 90s with explosions"),
    ("bob", "t1", "I loved The Matrix (1999)"),
    ("ana", "t1", "seen those, something else"),
]


def _expected_histories(answers: list[tuple[tuple[str, str, str], dict]]) -> dict[tuple[str, str], list]:
    histories: dict[tuple[str, str], list] = {}
    for (user, thread, message), answer in answers:
        histories.setdefault((user, thread), []).extend([("human", message), ("ai", answer["text"])])
    return histories


@pytest.mark.parametrize(
    "hang_in",
    [
        "crs_agent.tools.toolkit:Toolkit.rank",  # in the act node, between plan steps
        pytest.param("crs_agent.agent.respond:_items", marks=pytest.mark.slow),  # in the last node
    ],
)
def test_kill_9_mid_turn_keeps_every_answered_turn_and_all_or_nothing_of_the_interrupted_one(
    spawn, rules_settings: Settings, hang_in: str
):
    child = spawn("turns", FAULT_BLOCK=hang_in)
    assert child.line()["ready"] == child.proc.pid
    answers = [(turn, child.answer(user=turn[0], thread=turn[1], message=turn[2])) for turn in _TURNS]
    assert all(answer["items"] for _, answer in answers), "every answered turn recommended something"
    child.send(user="bob", thread="t1", message="I also loved Get Out (2017)", hang=True)
    child.kill9_in_the_hang()

    rec = Recommender.from_settings(rules_settings)  # a new process's view: the killed child held no lock now
    try:
        expected = _expected_histories(answers)
        for (user, thread), history in expected.items():
            if (user, thread) != ("bob", "t1"):
                assert rec.history(user, thread) == history
        last_profile = {(t[0], t[1]): a["profile"] for t, a in answers}
        assert rec.profile("ana", "t1").model_dump() == last_profile[("ana", "t1")]
        assert rec.profile("ana", "t2").model_dump() == last_profile[("ana", "t2")]
        assert sorted(rec.threads("ana")) == ["t1", "t2"] and rec.threads("bob") == ["t1"]

        bob = rec.history("bob", "t1")
        before = expected[("bob", "t1")]
        assert bob == before, "the interrupted turn left nothing in the thread (not half a turn)"
        assert rec.profile("bob", "t1").model_dump() == last_profile[("bob", "t1")]
        assert rec.graph.get_state(rec._config("bob", "t1")).next == ()

        again = rec.chat("I also loved Get Out (2017)", user_id="bob", thread_id="t1")
        assert again.items and rec.history("bob", "t1") == [*before, ("human", "I also loved Get Out (2017)"),
                                                            ("ai", again.text)]  # fmt: skip
        assert "8" in rec.profile("bob", "t1").liked_ids
        assert {r.text for r in rec.knowledge.memory.all("ana")} >= {"likes Inception (2010)", "does not want horror"}
    finally:
        rec.close()


# -- kill -9 in the middle of an index build --------------------------------------------------------------------


def _seen(settings: Settings) -> dict:
    """What this process sees of the index: its status, and whether it loads and serves every item."""
    from crs_agent.knowledge import index_status, load_knowledge
    from crs_agent.knowledge.errors import IndexError_

    seen: dict = {"status": index_status(settings)}
    try:
        knowledge = load_knowledge(settings)
    except IndexError_ as err:
        return {**seen, "load": type(err).__name__}
    hits = knowledge.items.search("a thief who plants an idea in a dream", k=3)
    return {
        **seen,
        "load": "ok",
        "count": knowledge.items.count(),
        "catalog": len(knowledge.catalog),
        "hits": len(hits),
    }


_AFTER_THE_KILL = """
import json, sys
sys.path.insert(0, {root!r})
from crs_agent.knowledge import Settings, build_index
from tests.reliability.test_faults import _seen

settings = Settings()
before = _seen(settings)
report = build_index(settings, rebuild=True, progress=False)
print(json.dumps({{"before": before, "built": report.built, "after": _seen(settings)}}))
"""


def _restart_and_rebuild(tmp_path: Path, settings: Settings) -> dict:
    """In a new process: what the killed build left (``before``), then a rebuild and what it gives (``after``)."""
    root = str(Path(__file__).resolve().parents[2])
    env = _env(settings.data_dir, settings.catalog, tmp_path)
    done = subprocess.run(
        [sys.executable, "-c", _AFTER_THE_KILL.format(root=root)], env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


_SERVING = {"status": "ok", "load": "ok", "count": 8, "catalog": 8, "hits": 3}


@pytest.mark.parametrize(
    "hang_in",
    [
        "crs_agent.knowledge.stores:ItemStore.add",  # new Chroma collection created, still empty
        pytest.param("crs_agent.knowledge.index:unit_rows", marks=pytest.mark.slow),  # build directory half written
        pytest.param("crs_agent.knowledge.index:_drop_stale", marks=pytest.mark.slow),  # swapped, not cleaned up
    ],
)
def test_kill_9_mid_rebuild_leaves_the_previous_index_serving(spawn, tmp_path: Path, tiny_settings: Settings, hang_in):
    from crs_agent.knowledge import build_index

    build_index(tiny_settings, progress=False)
    (tmp_path / "hang.flag").touch()
    spawn("index", "--rebuild", "--quiet", FAULT_BLOCK=hang_in).kill9_in_the_hang()
    (tmp_path / "hang.flag").unlink()

    seen = _restart_and_rebuild(tmp_path, tiny_settings)
    assert seen == {"before": _SERVING, "built": True, "after": _SERVING}
    assert len(list((tiny_settings.data_dir / "builds").iterdir())) == 1, "the killed build's files are gone"


def test_kill_9_mid_first_build_never_looks_valid(spawn, tmp_path: Path, rules_settings: Settings):
    tiny_settings = rules_settings
    (tmp_path / "hang.flag").touch()
    spawn("index", "--quiet", FAULT_BLOCK="crs_agent.knowledge.stores:ItemStore.add").kill9_in_the_hang()
    (tmp_path / "hang.flag").unlink()
    assert main(["status", "--data-dir", str(tiny_settings.data_dir), "--catalog", str(tiny_settings.catalog)]) == 1
    seen = _restart_and_rebuild(tmp_path, tiny_settings)
    assert seen == {"before": {"status": "missing", "load": "IndexMissingError"}, "built": True, "after": _SERVING}


# -- kill -9 of the web app in the middle of a turn through the HTTP API -----------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serving(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def _start_ui(spawn, **extra: str):
    from gradio_client import Client

    port = _free_port()
    child = spawn("ui", "--backend", "rules", "--port", str(port), **extra)
    child.wait_for(lambda: _serving(port), "serving the web app")
    return child, Client(f"http://127.0.0.1:{port}/", verbose=False)


@pytest.mark.slow  # two web app starts
def test_kill_9_of_the_web_app_mid_turn_loses_no_answered_turn(spawn, tmp_path: Path, tiny_settings: Settings):
    server, client = _start_ui(spawn, FAULT_BLOCK="crs_agent.tools.toolkit:Toolkit.rank")
    first = client.predict("I loved Inception (2010), no horror", "ana", "t1", api_name="/chat")
    other = client.predict("I loved The Matrix (1999)", "bob", "t1", api_name="/chat")
    client.predict("ana", first["items"][0]["id"], True, "t1", api_name="/feedback")
    profile = client.predict("ana", "t1", api_name="/profile")
    (tmp_path / "hang.flag").touch()
    job = client.submit("something darker", "ana", "t1", api_name="/chat")
    server.kill9_in_the_hang()
    with pytest.raises(Exception):  # noqa: B017 - whatever the client raises for a server that vanished
        job.result(timeout=60)

    (tmp_path / "hang.flag").unlink()
    _, client = _start_ui(spawn)
    assert client.predict("ana", "t1", api_name="/history") == [
        ["human", "I loved Inception (2010), no horror"],
        ["ai", first["text"]],
    ]
    assert client.predict("bob", "t1", api_name="/history") == [["human", "I loved The Matrix (1999)"],
                                                                 ["ai", other["text"]]]  # fmt: skip
    assert client.predict("ana", "t1", api_name="/profile") == profile
    again = client.predict("something darker", "ana", "t1", api_name="/chat")
    assert again["items"] and len(client.predict("ana", "t1", api_name="/history")) == 4


# -- two processes on one data directory -------------------------------------------------------------------------


def test_a_second_process_is_refused_with_a_message_that_says_how_to_share(
    spawn, rules_settings: Settings, capsys: pytest.CaptureFixture[str]
):
    holder = spawn("turns")
    pid = holder.line()["ready"]
    assert (rules_settings.data_dir / SERVE_LOCK).read_text().strip() == str(pid)

    refused = spawn("chat", "--backend", "rules")
    code, out, err = refused.finish()
    assert code == 2 and "Traceback" not in err
    (line,) = [line for line in err.splitlines() if line.startswith("crs-agent:")]
    for needed in (f"pid {pid}", str(rules_settings.data_dir), "CRS_AGENT_CHROMA=http", "CRS_AGENT_CHECKPOINT=post",
                   "CRS_AGENT_DATA_DIR"):  # fmt: skip
        assert needed in line
    with pytest.raises(DataDirBusyError, match=f"pid {pid}"):
        Recommender.from_settings(rules_settings)

    args = ["--data-dir", str(rules_settings.data_dir), "--catalog", str(rules_settings.catalog)]
    assert main(["index", "--rebuild", "--quiet", *args]) == 2  # would rewrite the store the holder serves
    assert f"pid {pid}" in capsys.readouterr().err
    assert main(["index", "--quiet", *args]) == 0  # unchanged: nothing to write, so allowed
    assert main(["status", *args]) == 0  # reading is allowed

    assert holder.answer(user="ana", thread="t", message="I loved Inception (2010)")["items"]
    assert holder.finish()[0] == 0  # end of its input: it closes and exits
    rec = Recommender.from_settings(rules_settings)  # the holder closed: the directory is free again
    assert rec.history("ana", "t")[0] == ("human", "I loved Inception (2010)")
    rec.close()


@pytest.mark.slow  # an evaluation with two worker processes
def test_an_evaluation_reads_the_directory_a_process_serves(spawn, rules_settings: Settings, tmp_path: Path):
    from crs_agent.evals.cases import write_cases
    from crs_agent.evals.runner import EvalConfig, run_eval
    from tests.evals.test_runner import CASES

    holder = spawn("turns")
    holder.line()
    assert holder.answer(user="ana", thread="t", message="I loved Inception (2010)")["items"]
    cases = tmp_path / "cases.jsonl"
    write_cases(CASES, cases)
    settings = {"data_dir": rules_settings.data_dir, "catalog": rules_settings.catalog, "embedding_model": "hashing"}
    config = EvalConfig(
        cases=cases, protocol="hints", systems=("agent",), workers=2, out=tmp_path / "eval", settings=settings
    )
    report = run_eval(config, progress=False)
    assert report["protocols"]["hints"]["systems"]["agent"]["cases"] == len(CASES)
    assert holder.answer(user="ana", thread="t", message="something else")["items"], "the server still serves"
    assert holder.finish()[0] == 0


def _locked_elsewhere(data_dir: Path) -> bool:
    """Whether a new open file (as another process would have) cannot take the lock now."""
    import fcntl

    with (data_dir / SERVE_LOCK).open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(handle, fcntl.LOCK_UN)
        return False


def test_the_lock_is_shared_within_a_process_and_released_by_the_last_holder(rules_settings: Settings):
    first = Recommender.from_settings(rules_settings)
    second = Recommender.from_settings(rules_settings)  # several recommenders in one process are fine
    assert _locked_elsewhere(rules_settings.data_dir)
    first.close()
    first.close()  # idempotent: must not release the second one's share
    assert _locked_elsewhere(rules_settings.data_dir)
    assert second.chat("I loved Inception (2010)", user_id="u", thread_id="t").items
    second.close()
    assert not _locked_elsewhere(rules_settings.data_dir)


def test_a_recommender_that_is_garbage_collected_releases_its_share(rules_settings: Settings):
    import gc

    rec = Recommender.from_settings(rules_settings)
    assert _locked_elsewhere(rules_settings.data_dir)
    del rec
    gc.collect()
    assert not _locked_elsewhere(rules_settings.data_dir)


def test_a_failed_start_releases_the_lock(rules_settings: Settings):
    broken = rules_settings.model_copy(update={"llm_backend": "llama_cpp", "llm_model": "/nowhere/model.gguf"})
    with pytest.raises(Exception, match="nowhere"):  # noqa: B017 - the model error itself is tested elsewhere
        Recommender.from_settings(broken)
    assert not _locked_elsewhere(rules_settings.data_dir)


def test_only_an_embedded_chroma_store_takes_the_lock(tmp_path: Path):
    embedded = Settings(data_dir=tmp_path / "a")
    server = Settings(data_dir=tmp_path / "b", chroma="http://127.0.0.1:8000")
    assert needs_serve_lock(embedded) and not needs_serve_lock(server)
    assert serve_lock(server) is None and not (tmp_path / "b" / SERVE_LOCK).exists()
    with serve_lock(embedded) as lease, acquire_serve_lock(tmp_path / "a") as again:
        assert _locked_elsewhere(tmp_path / "a") and not lease.released and not again.released
    assert lease.released and not _locked_elsewhere(tmp_path / "a")
