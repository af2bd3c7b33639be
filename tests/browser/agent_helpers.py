"""Helpers for the agent-console browser tests: agent accounts, a REST person, a Telegram person
through the fake Bot API (served from a thread, since the browser tests are sync), and `Console`,
which drives /agent in a page like an agent would."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
from chat_widget import WAIT_MS, Widget
from fakebotapi import FakeBotApi
from procs import REPO, ServerProcess

CSRF = {"X-Requested-With": "creditbot-console"}
WAIT_S = WAIT_MS / 1000


def wait_until(check: Callable[[], Any], what: str, timeout: float = WAIT_S, every: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(every)


def add_agent(server: ServerProcess, username: str, display_name: str, password: str) -> None:
    """`creditbot agent add`, as an operator runs it, against the server's own database."""
    done = subprocess.run([sys.executable, "-m", "bot", "agent", "add", "--username", username,
                           "--display-name", display_name, "--password-stdin"],
                          cwd=REPO, env=server.env, input=password + "\n", capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 0, done.stderr + done.stdout


def set_agent_disabled(server: ServerProcess, username: str, disabled: bool) -> None:
    """`creditbot agent disable|enable`: disabling ends the agent's open sessions."""
    done = subprocess.run([sys.executable, "-m", "bot", "agent", "disable" if disabled else "enable",
                           "--username", username],
                          cwd=REPO, env=server.env, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr + done.stdout


# -- the person's side -------------------------------------------------------------------------


class RestPerson:
    """A person on the REST channel: answers come back to the POST, proactive ones wait in the outbox."""

    def __init__(self, server: ServerProcess, sender: str, locale: str = "zh-CN") -> None:
        self.server, self.sender, self.locale = server, sender, locale
        self.received: list[str] = []

    def say(self, text: str) -> list[str]:
        answer = httpx.post(f"{self.server.url}/webhooks/rest/webhook", timeout=WAIT_S,
                            json={"sender": self.sender, "message": text, "metadata": {"locale": self.locale}})
        answer.raise_for_status()
        texts = [m.get("text") or "" for m in answer.json()]
        self.received += texts
        return texts

    def collect(self) -> list[str]:
        taken = httpx.get(f"{self.server.url}/webhooks/rest/messages/{self.sender}", timeout=WAIT_S).json()
        self.received += [m.get("text") or "" for m in taken]
        return self.received

    def wait_text(self, fragment: str) -> str:
        return wait_until(lambda: next((t for t in self.collect() if fragment in t), None),
                          f"{fragment!r} to reach REST sender {self.sender}")


def widget_send(w: Widget, text: str) -> None:
    """Types and sends while an agent has the conversation (no bot answer follows): waits for the echo."""
    after = w.last_seq()
    box = w.page.locator(".cb-input")
    box.fill(text)
    box.press("Enter")
    w.page.wait_for_function(
        """after => [...document.querySelectorAll('.cb-log [data-seq]')]
            .some(n => Number(n.dataset.seq) > after && n.dataset.from === 'user')""", arg=after, timeout=WAIT_MS)


class ThreadedFakeBotApi:
    """tests/fakebotapi.py in its own thread and event loop, for sync (Playwright) tests."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="fake-bot-api", daemon=True)
        self.fake = FakeBotApi()

    def start(self) -> ThreadedFakeBotApi:
        self.thread.start()
        self._run(self.fake.start())
        return self

    def stop(self) -> None:
        try:
            self._run(self.fake.stop())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(10)
            self.loop.close()

    def _run(self, coroutine: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(WAIT_S * 2)

    def call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Runs fn in the fake's loop (it wakes long polls there)."""
        async def run() -> Any:
            return fn(*args, **kwargs)
        return self._run(run())

    def say(self, chat_id: int, text: str) -> None:
        self.call(self.fake.user_message, chat_id, text)

    def texts(self, chat_id: int) -> list[str]:
        return [t or "" for t in self.call(self.fake.texts_to, chat_id)]

    def wait_text(self, chat_id: int, fragment: str, after: int = 0) -> str:
        return wait_until(lambda: next((t for t in self.texts(chat_id)[after:] if fragment in t), None),
                          f"{fragment!r} in Telegram chat {chat_id}")

    def polling(self) -> bool:
        """The bot has started polling (it clears any webhook first; getUpdates is recorded only
        once its long poll returns)."""
        return bool(self.call(self.fake.count_calls, "deleteWebhook"))


# -- the agent's side --------------------------------------------------------------------------


class Console:
    """Drives /agent in one page (one browser context = one agent)."""

    def __init__(self, page: Any, server: ServerProcess) -> None:
        self.page, self.server = page, server

    def open(self) -> Console:
        self.page.goto(self.server.url + "/agent")
        self.page.wait_for_selector("#cc[data-ready=true]", state="attached")
        return self

    def sign_in(self, username: str, password: str) -> Console:
        self.page.fill("#cc-username", username)
        self.page.fill("#cc-password", password)
        self.page.click("#cc-signin-submit")
        self.page.wait_for_selector("#cc[data-view=console][data-connection=online]", state="attached")
        return self

    # -- raw API, with this agent's cookie ----------------------------------------------------

    def api(self, method: str, path: str, data: Any = None) -> Any:
        request = self.page.context.request
        url = f"{self.server.url}/agent/api{path}"
        if method == "GET":
            return request.get(url, headers=CSRF)
        return request.post(url, headers=CSRF, data=data)

    def waiting_ids(self) -> set[int]:
        answer = self.api("GET", "/queue")
        assert answer.status == 200, answer.text()
        return {h["id"] for h in answer.json()["handoffs"] if h["status"] == "waiting"}

    def new_handoff(self, before: set[int]) -> int:
        """The handoff that joined the queue since `before` (waiting_ids() taken earlier)."""
        fresh = wait_until(lambda: self.waiting_ids() - before, "a new handoff in the queue")
        assert len(fresh) == 1, fresh
        return fresh.pop()

    # -- the page -----------------------------------------------------------------------------

    def item(self, handoff_id: int) -> Any:
        return self.page.locator(f'.cc-queue-item[data-handoff-id="{handoff_id}"]')

    def select(self, handoff_id: int) -> None:
        self.item(handoff_id).click()
        self.page.wait_for_selector(f'#cc-detail[data-handoff-id="{handoff_id}"]:not([data-status=""])',
                                    state="attached")

    def claim(self) -> None:
        self.page.click("#cc-claim")
        self.page.wait_for_selector("#cc-detail[data-mine=true]", state="attached")

    def lines(self) -> list[dict[str, Any]]:
        return self.page.eval_on_selector_all("#cc-transcript .cc-line", """nodes => nodes.map(n => ({
            id: Number(n.dataset.id), author: n.dataset.author,
            who: n.querySelector('.cc-line-who').textContent,
            text: n.querySelector('.cc-line-text').textContent}))""")

    def wait_line(self, fragment: str, author: str | None = None) -> None:
        self.page.wait_for_function(
            """([fragment, author]) => [...document.querySelectorAll('#cc-transcript .cc-line')].some(n =>
                (!author || n.dataset.author === author)
                && n.querySelector('.cc-line-text').textContent.includes(fragment))""",
            arg=[fragment, author])

    def reply(self, text: str) -> None:
        box = self.page.locator("#cc-reply")
        box.fill(text)
        box.press("Enter")
        self.wait_line(text, "agent")
        assert box.input_value() == ""

    def canned(self, key: str) -> str:
        """Picks a canned reply, puts it in the box, sends it with Enter; returns its text."""
        self.page.select_option("#cc-canned", key)
        self.page.click("#cc-canned-use")
        text = self.page.locator("#cc-reply").input_value()
        assert text, f"canned reply {key} is empty"
        self.page.locator("#cc-reply").press("Enter")
        self.wait_line(text, "agent")
        return text

    def note(self, text: str) -> None:
        self.page.fill("#cc-note", text)
        self.page.click("#cc-note-add")
        self.wait_line(text, "note")

    def finish(self, how: str) -> None:
        """how: "handback" or "close"; confirms in the dialog."""
        self.page.click(f"#cc-{how}")
        self.page.wait_for_selector("#cc-confirm[open]")
        self.page.click("#cc-confirm-yes")
        status = "returned" if how == "handback" else "closed"
        self.page.wait_for_selector(f"#cc-detail[data-status={status}]", state="attached")
