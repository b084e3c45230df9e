"""Remake docs/screenshots/chat.png: a real conversation in the real page, on the index in CRS_AGENT_DATA_DIR.

    CRS_AGENT_DATA_DIR=/path/to/data python docs/screenshots/make_screenshot.py [--backend rules]

Starts ``crs-agent ui`` on a free port, drives it in Debian's headless Chromium (/usr/bin/chromium) with
Playwright, and writes the screenshot next to this file.
"""

from __future__ import annotations

import argparse
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from playwright.sync_api import expect, sync_playwright

HERE = Path(__file__).resolve().parent
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run"]
LAUNCH_ARGS += ["--disable-background-networking", "--disable-component-update", "--disable-sync"]
TURNS = ["I loved Inception and The Matrix. Something mind-bending, but no horror please"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_until_up(url: str, proc: subprocess.Popen) -> None:
    while proc.poll() is None:
        try:
            urllib.request.urlopen(url, timeout=5).close()
            return
        except OSError:
            time.sleep(1)
    raise SystemExit(f"crs-agent ui exited with {proc.returncode}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="rules", help="LLM backend for the conversation (default: rules).")
    parser.add_argument("--out", type=Path, default=HERE / "chat.png")
    args = parser.parse_args()
    port = _free_port()
    command = [sys.executable, "-m", "crs_agent.agent", "ui", "--backend", args.backend, "--port", str(port)]
    proc = subprocess.Popen(command)
    url = f"http://127.0.0.1:{port}/"
    try:
        _wait_until_up(url, proc)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=LAUNCH_ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 940}, device_scale_factor=1)
            page.set_default_timeout(600_000)
            expect.set_options(timeout=600_000)
            page.goto(url)
            expect(page.locator("#crs-who")).to_contain_text("anonymously")
            for turn in TURNS:
                page.locator("#crs-message textarea").fill(turn)
                page.locator("#crs-send").click()
                expect(page.locator(".crs-card").first).to_be_visible()
            page.locator("#crs-cards button", has_text="👍 Like").first.click()
            expect(page.get_by_text("Noted: you liked")).to_be_visible()
            expect(page.get_by_text("Noted: you liked")).to_be_hidden()  # the toast goes after a few seconds
            page.mouse.move(5, 5)  # no hover highlight in the picture
            page.wait_for_timeout(1000)
            page.screenshot(path=str(args.out))
            browser.close()
    finally:
        proc.terminate()
        proc.wait(timeout=60)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
