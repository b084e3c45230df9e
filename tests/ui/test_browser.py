"""The real page in a real browser: ``crs-agent ui`` in a subprocess (tiny catalog, rules backend), driven by
Playwright in Debian's headless Chromium.

Skipped when /usr/bin/chromium is absent, unless ``CRS_AGENT_REQUIRE_BROWSER=1`` (set by ``.ci/run``, which
installs Chromium), where a missing browser fails the run instead.
"""

from __future__ import annotations

import json
import os
import queue
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import TINY_MOVIES
from tests.servers import free_port

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
# As root in a container, without GPU, and without Chromium's background calls to Google (refused offline).
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ASK = "I loved Inception (2010). Something in space, but no horror"
WAIT_MS = 120_000  # a hang guard for a loaded 2-core machine, not a speed requirement
START_S = 300


def _require_browser() -> None:
    missing = None
    if not CHROMIUM.is_file():
        missing = f"Debian's Chromium is not installed at {CHROMIUM} (apt-get install chromium chromium-driver)"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            missing = 'the playwright package is not installed (pip install -e ".[test]")'
    if missing and os.environ.get("CRS_AGENT_REQUIRE_BROWSER") == "1":
        pytest.fail(f"CRS_AGENT_REQUIRE_BROWSER=1 but {missing}")
    if missing:
        pytest.skip(missing)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``crs-agent ui`` as a user starts it: the index does not exist yet and is built first."""
    _require_browser()
    root = tmp_path_factory.mktemp("ui-server")
    catalog = root / "movies.jsonl"
    catalog.write_text("".join(json.dumps(row) + "\n" for row in TINY_MOVIES), encoding="utf-8")
    env = {
        **os.environ,
        "CRS_AGENT_EMBEDDING_MODEL": "hashing",
        "CRS_AGENT_CONFIG": str(root / "absent.toml"),
        "HF_HUB_OFFLINE": "1",
        "GRADIO_ANALYTICS_ENABLED": "False",
        "CRS_AGENT_ASK_MIN_GAIN": "2",  # a list every turn: on 12 movies any question pays (tests/agent asks)
    }
    port = free_port()
    command = [sys.executable, "-m", "crs_agent.agent", "ui", "--backend", "rules", "--port", str(port)]
    command += ["--data-dir", str(root / "data"), "--catalog", str(catalog)]
    proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in proc.stdout], daemon=True).start()
    seen = []
    try:
        while not any("Running on local URL" in line for line in seen):
            try:
                seen.append(lines.get(timeout=START_S))
            except queue.Empty:
                pytest.fail("crs-agent ui did not start:\n" + "".join(seen))
            if proc.poll() is not None and lines.empty():
                pytest.fail(f"crs-agent ui exited with {proc.returncode}:\n" + "".join(seen))
        assert any("building it now" in line for line in seen), "the index should have been built first"
        yield f"http://127.0.0.1:{port}/"
    finally:
        proc.terminate()
        proc.wait(timeout=60)
    while not lines.empty():
        seen.append(lines.get())
    assert not [line for line in seen if "Traceback" in line], "the server failed:\n" + "".join(seen)


@pytest.fixture(scope="module")
def browser(server: str):
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=WAIT_MS)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=LAUNCH_ARGS)
        yield chromium
        chromium.close()


def _open(browser, url: str, elsewhere: list[str] | None = None):
    page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    page.set_default_timeout(WAIT_MS)
    if elsewhere is not None:
        page.on("request", lambda r: None if r.url.startswith((url, "data:", "blob:")) else elsewhere.append(r.url))
    page.goto(url)
    from playwright.sync_api import expect

    expect(page.locator("#crs-who")).to_contain_text("anonymously")  # the page's load event has run
    return page


def _ask(page, text: str) -> None:
    from playwright.sync_api import expect

    page.locator("#crs-message textarea").fill(text)
    page.locator("#crs-send").click()
    expect(page.locator(".crs-card")).to_have_count(3)


def test_a_conversation_in_the_real_page(server: str, browser, tmp_path: Path):
    from playwright.sync_api import expect

    elsewhere: list[str] = []
    page = _open(browser, server, elsewhere)
    _ask(page, ASK)
    chat = page.locator("#crs-chat")
    expect(chat).to_contain_text("Here are my picks for you")
    first_title = page.locator(".crs-card .crs-title").first.inner_text()
    assert re.match(r"1\s*\S", first_title) and "%" in page.locator(".crs-score").first.inner_text()
    assert "The Shining" not in chat.inner_text() and "Get Out" not in chat.inner_text(), "horror was excluded"

    page.locator("#crs-cards button", has_text="👍 Like").first.click()
    title = re.sub(r"^\s*1\s*", "", first_title).strip()
    expect(page.locator("#crs-profile")).to_contain_text(title)
    expect(page.get_by_text(f"Noted: you liked {title}")).to_be_visible()

    page.locator("#crs-trace-panel").get_by_text("The agent's work (last turn)").click()
    expect(page.locator("#crs-trace")).to_contain_text("generate_candidates(")
    page.screenshot(path=str(tmp_path / "answer.png"), full_page=True)

    page.locator("#crs-new").click()
    expect(page.locator(".crs-card")).to_have_count(0)
    expect(chat).not_to_contain_text("Here are my picks")
    threads = page.locator("#crs-threads label")
    expect(threads).to_have_count(1)
    threads.first.click()
    expect(page.locator(".crs-card")).to_have_count(3)
    expect(chat).to_contain_text(ASK)
    expect(page.locator("#crs-profile")).to_contain_text(title)

    page.reload()  # the browser keeps its anonymous user and the open conversation
    expect(page.locator(".crs-card")).to_have_count(3)
    expect(chat).to_contain_text(ASK)
    page.screenshot(path=str(tmp_path / "reopened.png"), full_page=True)
    assert (tmp_path / "reopened.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert elsewhere == [], f"the page fetched from elsewhere than the app: {elsewhere}"


def test_a_second_browser_sees_none_of_the_first_ones_conversations(server: str, browser):
    from playwright.sync_api import expect

    first = _open(browser, server)
    _ask(first, "Something like The Matrix (1999)")
    expect(first.locator("#crs-threads label")).to_contain_text(["Something like The Matrix (1999)"])

    second = _open(browser, server)
    expect(second.locator("#crs-profile")).to_contain_text("Nothing yet")
    assert second.locator("#crs-threads label").count() == 0
    assert "The Matrix" not in second.locator("#crs-chat").inner_text()
    assert second.locator(".crs-card").count() == 0
