"""Helpers for driving the chat widget in a browser (imported by conftest.py and the tests)."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import httpx
from procs import REPO, ServerProcess

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SCREENSHOTS = REPO / "artifacts" / "screenshots"  # artifacts/ is in .gitignore
PHONE = {"width": 375, "height": 667}
WAIT_MS = 15_000  # the longest any single wait in a browser test may take


def save_screenshot(page: Any, name: str, full_page: bool = False) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{re.sub(r'[^A-Za-z0-9_.-]', '_', name)}.png"
    page.screenshot(path=str(path), full_page=full_page, timeout=WAIT_MS)
    assert path.stat().st_size > 0, f"empty screenshot {path}"
    return path


class Widget:
    """Drives the chat widget on one page, like a person: type, press Enter, read the bubbles."""

    ENTRIES = ".cb-log [data-seq]"

    def __init__(self, page: Any, server: ServerProcess) -> None:
        self.page, self.server = page, server

    def open(self, path: str = "/") -> Widget:
        self.page.goto(self.server.url + path)
        self.wait_connected()
        return self

    def wait_connected(self) -> None:
        self.page.wait_for_selector(".cb-root[data-connection=online]", state="attached", timeout=WAIT_MS)

    def entries(self) -> list[dict[str, Any]]:
        return self.page.eval_on_selector_all(self.ENTRIES, """nodes => nodes.map(n => ({
            seq: Number(n.dataset.seq), from: n.dataset.from,
            text: (n.querySelector('.cb-text') || {}).textContent || ''}))""")

    def last_seq(self) -> int:
        entries = self.entries()
        return entries[-1]["seq"] if entries else 0

    def say(self, text: str) -> list[dict[str, Any]]:
        """Types and presses Enter; returns the entries of that turn (its echo and the replies)."""
        after = self.last_seq()
        box = self.page.locator(".cb-input")
        box.fill(text)
        box.press("Enter")
        return self.wait_turn(after)

    def tap(self, payload: str) -> list[dict[str, Any]]:
        """Clicks the newest button that sends `payload`."""
        after = self.last_seq()
        self.page.locator(f'.cb-choice[data-payload="{payload}"]').last.click()
        return self.wait_turn(after)

    def wait_turn(self, after: int) -> list[dict[str, Any]]:
        """Until the user's echo past `after`, a reply after it, and the typing indicator gone."""
        self.page.wait_for_function(
            """after => {
                const nodes = [...document.querySelectorAll('.cb-log [data-seq]')]
                    .filter(n => Number(n.dataset.seq) > after);
                const user = nodes.findIndex(n => n.dataset.from === 'user');
                return user >= 0 && nodes.slice(user + 1).some(n => n.dataset.from !== 'user')
                    && document.querySelector('.cb-root').dataset.busy === 'false';
            }""", arg=after, timeout=WAIT_MS)
        return [e for e in self.entries() if e["seq"] > after]

    def wait_text(self, fragment: str, timeout: float = WAIT_MS) -> None:
        self.page.wait_for_function(
            """fragment => [...document.querySelectorAll('.cb-log [data-seq] .cb-text')]
                .some(n => n.textContent.includes(fragment))""", arg=fragment, timeout=timeout)

    def code(self, phone: str) -> str:
        """The last code texted to `phone`, from the sandbox inbox."""
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            inbox = httpx.get(f"{self.server.url}/sandbox/phones/{phone}/messages", timeout=10).json()
            if inbox:
                return str(re.findall(r"\d{6}", inbox[-1]["text"])[0])
            time.sleep(0.2)
        raise AssertionError(f"no code texted to {phone}")


def texts(entries: list[dict[str, Any]]) -> str:
    return "\n".join(e["text"] for e in entries)
