"""Real servers on 127.0.0.1 for the scale tests: a Chroma server (``chroma run``) started here, the PostgreSQL
named by ``CRS_AGENT_TEST_POSTGRES`` (``.ci/run`` starts Debian's), and the llama.cpp server of the LLM tests."""

from __future__ import annotations

import os
import shutil
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

from tests.agent.test_llm import llama_server  # noqa: F401 - the real llama-cpp-python server, reused
from tests.servers import free_port, running


def _chroma_cli() -> str:
    beside = Path(sys.executable).with_name("chroma")
    found = str(beside) if beside.exists() else shutil.which("chroma")
    if not found:
        pytest.fail("the chroma CLI of the installed chromadb is missing (pip install chromadb)")
    return found


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``chroma run`` on a free loopback port, its data in a temporary directory; yields its URL."""
    port = free_port()
    directory = tmp_path_factory.mktemp("chroma-server")
    args = [_chroma_cli(), "run", "--path", str(directory / "data"), "--host", "127.0.0.1", "--port", str(port)]
    with running(args, f"http://127.0.0.1:{port}/api/v2/heartbeat", directory / "server.log"):
        yield f"http://127.0.0.1:{port}"


def empty_chroma_server(url: str) -> None:
    """Delete every collection on the server, so each test starts from an empty one."""
    from crs_agent.knowledge.stores import make_client

    client = make_client(url, Path("unused"))
    for collection in client.list_collections():
        client.delete_collection(collection if isinstance(collection, str) else collection.name)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """``CRS_AGENT_TEST_POSTGRES`` with a fresh schema for this session (dropped at the end).

    Skips without the variable, unless ``CRS_AGENT_REQUIRE_POSTGRES=1`` (CI), where a missing server fails.
    """
    base = os.environ.get("CRS_AGENT_TEST_POSTGRES")
    if not base:
        if os.environ.get("CRS_AGENT_REQUIRE_POSTGRES") == "1":
            pytest.fail("CRS_AGENT_REQUIRE_POSTGRES=1 but CRS_AGENT_TEST_POSTGRES is not set (see .ci/run)")
        pytest.skip("set CRS_AGENT_TEST_POSTGRES=postgresql://user:password@127.0.0.1:5432/db to run")
    import psycopg

    schema = f"crs_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(base, autocommit=True, connect_timeout=10) as connection:
        connection.execute(f'CREATE SCHEMA "{schema}"')
    separator = "&" if "?" in base else "?"
    try:
        yield f"{base}{separator}options={quote(f'-csearch_path={schema}')}"
    finally:
        with psycopg.connect(base, autocommit=True, connect_timeout=10) as connection:
            connection.execute(f'DROP SCHEMA "{schema}" CASCADE')
