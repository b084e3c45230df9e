"""Load test of the web chat's HTTP API on loopback: speed, memory and isolation (a benchmark, not a test).

    python -m crs_agent.evals.bench_load [--backend rules] [--conversations 16] [--turns 5] [--data-dir DIR]
    python -m crs_agent.evals.bench_load --backend llama_cpp --conversations 4

Copies the built index in ``--data-dir`` into a temporary directory (the server writes conversations and
memory there), starts ``crs-agent ui`` on it as a subprocess on a free 127.0.0.1 port, and runs the
conversations at once: one thread and one ``gradio_client.Client`` each, with its own user and thread id,
sending the first seeker messages of real ReDial dialogues through ``/chat``, then a 👍 on a marker item of
its own through ``/feedback``. A warm-up turn goes first, so the RSS "before" includes what the first turn
loads (the embedder, the LLM), and "peak" and "after" show what the load adds. Afterwards each conversation
is audited for cross-talk: every reply names its own user and thread, ``/history`` holds exactly its own
turns, ``/threads`` only its thread, and its profile holds its own marker and no other conversation's
(unless it was recommended to it). Prints a table; exits 1 on any error, cross-talk or timeout, 2 when the
index is not usable.
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from crs_agent.evals.bench_agent import scripted_conversations
from crs_agent.knowledge import Catalog, CrsAgentError, Settings, index_status, normalize_title
from crs_agent.knowledge.index import read_manifest

__all__ = ["COLUMNS", "Conversation", "Observed", "audit", "main", "pick_markers"]

COLUMNS = (
    "backend", "conversations", "turns", "errors", "cross-talk", "turns/s",
    "p50 ms", "p95 ms", "max ms", "RSS before MB", "RSS peak MB", "RSS after MB",
)  # fmt: skip
_NOT_COPIED = shutil.ignore_patterns("cache", "conversations.sqlite*", ".index.lock", "ui-secret")


@dataclass
class Conversation:
    """One scripted conversation and what came back for it."""

    user_id: str
    thread_id: str
    messages: list[str]
    marker: str  # an item only this conversation 👍s
    replies: list[dict[str, Any]] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


@dataclass
class Observed:
    """What the server holds for a conversation afterwards."""

    history: list[list[str]]
    profile: dict[str, Any]
    threads: list[str]


def audit(conv: Conversation, seen: Observed, markers: list[str]) -> list[str]:
    """Every sign that another conversation leaked into ``conv`` (an empty list when it is clean)."""
    who = f"{conv.user_id}/{conv.thread_id}"
    problems = [
        f"{who}: reply {n + 1} is for {reply.get('user_id')}/{reply.get('thread_id')}"
        for n, reply in enumerate(conv.replies)
        if (reply.get("user_id"), reply.get("thread_id")) != (conv.user_id, conv.thread_id)
    ]
    expected = [
        pair
        for message, reply in zip(conv.messages, conv.replies, strict=False)
        for pair in (["human", message], ["ai", reply["text"]])
    ]
    if seen.history != expected:
        problems.append(f"{who}: /history holds {len(seen.history)} messages, not its own {len(expected)}")
    if seen.threads != [conv.thread_id]:
        problems.append(f"{who}: /threads lists {seen.threads}")
    liked = set(seen.profile.get("liked_ids", []))
    if conv.marker not in liked:
        problems.append(f"{who}: its own liked item {conv.marker} is missing from its profile")
    recommended = {item["id"] for reply in conv.replies for item in reply.get("items", [])}
    foreign = liked & (set(markers) - {conv.marker} - recommended)
    if foreign:
        problems.append(f"{who}: profile holds other conversations' liked items {sorted(foreign)}")
    return problems


def pick_markers(catalog: Catalog, conversations: list[list[str]]) -> list[str]:
    """One item per conversation, least popular first, whose title none of the scripted messages names."""
    said = " " + " ".join(normalize_title(m) for conv in conversations for m in conv) + " "
    markers = [
        item.id
        for item in sorted(catalog, key=lambda item: (item.popularity, item.id))
        if f" {normalize_title(item.title)} " not in said
    ][: len(conversations)]
    if len(markers) < len(conversations):
        raise CrsAgentError(f"The catalog has too few items for {len(conversations)} conversations: use fewer.")
    return markers


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rss_mb(pid: int) -> float:
    """Resident memory of a process, from ``/proc`` (Linux)."""
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


class _RssSampler(threading.Thread):
    def __init__(self, pid: int, every: float = 0.2) -> None:
        super().__init__(daemon=True)
        self.pid, self.every, self.peak = pid, every, _rss_mb(pid)
        self._done = threading.Event()

    def run(self) -> None:
        while not self._done.wait(self.every):
            try:
                self.peak = max(self.peak, _rss_mb(self.pid))
            except FileNotFoundError:  # the server exited; the run reports its errors
                return

    def stop(self) -> float:
        self._done.set()
        self.join()
        return self.peak


def _usable_copy(source: Path, work: Path) -> tuple[Path, dict[str, str]]:
    """A private copy of the index in ``source``, and the server environment that matches how it was built."""
    manifest = read_manifest(Settings(data_dir=source))
    if manifest is None:
        raise CrsAgentError(f'No index in {source}: run "crs-agent index --data-dir {source}" first.')
    config = manifest["embedder"]
    env = {"CRS_AGENT_EMBEDDING_MODEL": f"hashing:{config['dim']}" if "dim" in config else config["model"]}
    if manifest.get("catalog_path"):
        env["CRS_AGENT_CATALOG"] = manifest["catalog_path"]
    data_dir = work / "data"
    shutil.copytree(source, data_dir, symlinks=True, ignore=_NOT_COPIED)
    settings = Settings(
        data_dir=data_dir, embedding_model=env["CRS_AGENT_EMBEDDING_MODEL"], catalog=env.get("CRS_AGENT_CATALOG")
    )
    status = index_status(settings)  # as the server will read it
    if status != "ok":
        raise CrsAgentError(f'The index in {source} is {status}: run "crs-agent index --data-dir {source}" first.')
    return data_dir, env


@contextmanager
def _server(data_dir: Path, backend: str, env: dict[str, str], deadline: float) -> Iterator[tuple[str, int]]:
    """``crs-agent ui`` on a free loopback port; yields (url, pid) once it answers, and stops it after."""
    port = _free_port()
    log = (data_dir.parent / "server.log").open("w")
    command = [sys.executable, "-m", "crs_agent.agent", "ui", "--backend", backend, "--port", str(port)]
    inherited = {k: v for k, v in os.environ.items() if k != "CRS_AGENT_CATALOG"}  # the index's own catalog only
    full_env = {**inherited, **env, "CRS_AGENT_DATA_DIR": str(data_dir), "GRADIO_ANALYTICS_ENABLED": "False"}
    proc = subprocess.Popen([*command, "--data-dir", str(data_dir)], stdout=log, stderr=subprocess.STDOUT, env=full_env)
    url = f"http://127.0.0.1:{port}/"
    try:
        while True:
            if proc.poll() is not None or time.monotonic() > deadline:
                tail = (data_dir.parent / "server.log").read_text(errors="replace")[-2000:]
                raise CrsAgentError(f"The server did not start (exit code {proc.poll()}):\n{tail}")
            try:
                with urllib.request.urlopen(url, timeout=2):
                    break
            except OSError:
                time.sleep(0.5)
        yield url, proc.pid
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def _converse(url: str, conv: Conversation, deadline: float) -> None:
    from gradio_client import Client

    try:
        client = Client(url, verbose=False)
        for message in conv.messages:
            start = time.perf_counter()
            job = client.submit(message, conv.user_id, conv.thread_id, api_name="/chat")
            conv.replies.append(job.result(timeout=max(0.1, deadline - time.monotonic())))
            conv.latencies.append(time.perf_counter() - start)
        job = client.submit(conv.user_id, conv.marker, True, conv.thread_id, api_name="/feedback")
        job.result(timeout=max(0.1, deadline - time.monotonic()))
    except Exception as err:  # noqa: BLE001 - any failure is an error of the run, reported with its message
        conv.errors.append(f"{conv.user_id} turn {len(conv.replies) + 1}: {type(err).__name__}: {err}"[:300])


def _observe(url: str, conv: Conversation) -> Observed:
    from gradio_client import Client

    client = Client(url, verbose=False)
    return Observed(
        history=client.predict(conv.user_id, conv.thread_id, api_name="/history"),
        profile=client.predict(conv.user_id, conv.thread_id, api_name="/profile"),
        threads=client.predict(conv.user_id, api_name="/threads"),
    )


def _percentile(sorted_ms: list[float], q: float) -> float:
    return sorted_ms[max(0, math.ceil(q * len(sorted_ms)) - 1)] if sorted_ms else float("nan")


def run(args: argparse.Namespace, work: Path) -> tuple[dict[str, Any], list[str]]:
    """The load test; returns the table row and every error and cross-talk problem found."""
    deadline = time.monotonic() + args.timeout
    data_dir, env = _usable_copy(args.data_dir, work)
    scripts = scripted_conversations(args.conversations, args.turns)
    markers = pick_markers(Catalog.load(data_dir / "index" / "catalog.jsonl"), scripts)
    run_id = uuid.uuid4().hex[:6]
    convs = [Conversation(f"load-{run_id}-{n}", f"t{n}", msgs, markers[n]) for n, msgs in enumerate(scripts)]
    with _server(data_dir, args.backend, env, deadline) as (url, pid):
        warm_up = Conversation(f"load-{run_id}-warm-up", "t", scripts[0][:1], markers[0])
        _converse(url, warm_up, deadline)  # loads what the first turn loads lazily (the embedder, the LLM)
        before, sampler = _rss_mb(pid), _RssSampler(pid)
        sampler.start()
        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=len(convs)) as pool:
            list(pool.map(lambda conv: _converse(url, conv, deadline), convs))
        wall = time.perf_counter() - started
        after = _rss_mb(pid)
        peak = max(before, sampler.stop(), after)
        errors = [e for conv in [warm_up, *convs] for e in conv.errors]
        problems = [p for conv in convs if not conv.errors for p in audit(conv, _observe(url, conv), markers)]
    ms = sorted(t * 1000 for conv in convs for t in conv.latencies)
    row = {
        "backend": args.backend, "conversations": len(convs), "turns": len(ms), "errors": len(errors),
        "cross-talk": len(problems), "turns/s": len(ms) / wall if wall else 0.0, "p50 ms": _percentile(ms, 0.5),
        "p95 ms": _percentile(ms, 0.95), "max ms": ms[-1] if ms else float("nan"),
        "RSS before MB": before, "RSS peak MB": peak, "RSS after MB": after,
    }  # fmt: skip
    return row, errors + problems


def print_table(row: dict[str, Any], title: str) -> None:
    print(f"\n{title}")
    cells = [f"{v:.1f}" if isinstance(v, float) else str(v) for v in (row[name] for name in COLUMNS)]
    widths = [max(len(name), len(cell)) for name, cell in zip(COLUMNS, cells, strict=True)]
    print("  ".join(f"{name:>{w}}" for name, w in zip(COLUMNS, widths, strict=True)))
    print("  ".join(f"{cell:>{w}}" for cell, w in zip(cells, widths, strict=True)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", default="rules", choices=["rules", "llama_cpp", "openai", "transformers"])
    parser.add_argument("--conversations", type=int, default=16)
    parser.add_argument("--turns", type=int, default=5)
    parser.add_argument(
        "--data-dir", type=Path, help="A data directory with a built index (default: CRS_AGENT_DATA_DIR)."
    )
    parser.add_argument("--timeout", type=float, default=900.0, help="Seconds for the whole run, start-up included.")
    args = parser.parse_args(argv)
    args.data_dir = args.data_dir or Settings().data_dir
    with tempfile.TemporaryDirectory(prefix="crs-load-") as work:
        try:
            row, problems = run(args, Path(work))
        except CrsAgentError as err:
            print(f"bench_load: {err}", file=sys.stderr)
            return 2
    print_table(
        row, f"Load: HTTP API on 127.0.0.1, {args.backend} backend, {row['conversations']} concurrent conversations "
        f"x {args.turns} ReDial turns (latency per /chat call, queue wait included)"
    )  # fmt: skip
    for problem in problems:
        print(f"FAIL {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
