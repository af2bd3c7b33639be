"""`creditbot chat`: the same engine in a terminal; buttons become numbered choices, files are saved.

What the person types is read in a thread, so the loop stays free to show, as they arrive, what
comes without a turn: an agent's replies (the server puts them in this conversation's outbox), the
notice that the agent handed back, results and timeouts this process delivers itself.
"""

from __future__ import annotations

import asyncio
import getpass
import logging
import os
import sys
from pathlib import Path
from typing import Any, TextIO


from backend.delivery import Delivery
from backend.migrate import upgrade_async
from backend.settings import Settings
from bot.errors import handle_safely
from bot.wiring import App, build
from dialogs.types import Button, Delete, Document, Image, Reply, Text, Turn, Typing

logger = logging.getLogger(__name__)

POLL_SECONDS = 0.3  # how often the outbox and the handoff are looked at while the person types
PROMPT, SECRET_PROMPT = "you> ", "you (hidden)> "
CLEAR_LINE = "\r\033[K"
# How a handoff that ended elsewhere (in the agents' console) is announced when the bot takes over.
ENDED_LEADS = {"returned": "agent.handed_back", "closed": "agent.closed", "timed_out": "agent.timeout"}


class Terminal:
    """Rendering only: keeps the buttons last shown so a typed number can pick one."""

    def __init__(self, out: TextIO, files_dir: Path, interactive: bool = False) -> None:
        self.out = out
        self.files_dir = files_dir
        self.interactive = interactive  # a person at a tty: the prompt is redrawn after news
        self.buttons: tuple[Button, ...] = ()
        self.secret_next = False
        self.prompting = False

    def show(self, replies: list[Reply]) -> None:
        if not replies:
            return
        if self.prompting and self.interactive:
            self.out.write(CLEAR_LINE)  # news arrived while the person was at the prompt
        for reply in replies:
            self._one(reply)
        if self.prompting and self.interactive:
            self.out.write(SECRET_PROMPT if self.secret_next else PROMPT)
        self.out.flush()

    def _one(self, reply: Reply) -> None:
        if isinstance(reply, Text):
            speaker = f"💬 {reply.agent}" if reply.agent else "bot"
            self.out.write(f"{speaker}> {reply.text}\n")
            # The numbers always belong to the last message shown: older buttons are no longer offered.
            self.buttons, self.secret_next = reply.buttons, reply.secret_input
            for i, button in enumerate(reply.buttons, start=1):
                self.out.write(f"     [{i}] {button.title}\n")
        elif isinstance(reply, Image):
            path = self._save("captcha.png", reply.png)
            self.out.write(f"bot> [{reply.caption or 'image'}] saved to {path}\n")
        elif isinstance(reply, Document):
            path = self._save(reply.filename, reply.data)
            self.out.write(f"bot> [{reply.caption}] document saved to {path}\n")
        elif isinstance(reply, Delete | Typing):
            return

    def _save(self, name: str, data: bytes) -> Path:
        self.files_dir.mkdir(parents=True, exist_ok=True)
        path = self.files_dir / Path(name).name
        path.write_bytes(data)
        return path

    def to_message(self, line: str) -> str:
        """A number picks a shown button; anything else is sent as typed."""
        text = line.strip()
        if text.isdigit() and 1 <= int(text) <= len(self.buttons):
            return self.buttons[int(text) - 1].payload
        return line.rstrip("\n")


class TerminalSender:
    """What this process's dispatcher delivers (results, timeouts) is shown at once."""

    def __init__(self, terminal: Terminal) -> None:
        self.terminal = terminal

    async def send(self, conversation_id: str, replies: list[Reply]) -> Delivery:
        self.terminal.show(replies)
        return Delivery("sent")


class ChatSession:
    """One conversation in this terminal: the person's turns, and what arrives between them.

    Both go through one lock and each first catches up with what is pending, so news is shown
    before the answer to a later turn, and never in the middle of one.
    """

    def __init__(self, app: App, terminal: Terminal, conversation: str) -> None:
        self.app, self.terminal, self.conversation = app, terminal, conversation
        self._lock = asyncio.Lock()

    async def turn(self, message: str, kind: str = "text") -> None:
        async with self._lock:
            await self._catch_up()
            self.terminal.show(await handle_safely(self.app.engine, Turn("cli", self.conversation, message,
                                                                         kind=kind)))

    async def watch(self, interval: float = POLL_SECONDS) -> None:
        while True:
            await asyncio.sleep(interval)
            async with self._lock:
                try:
                    await self._catch_up()
                except Exception:  # noqa: BLE001 - a failed look must not end live delivery for good
                    logger.exception("terminal chat: could not fetch news for %s", self.conversation)

    async def _catch_up(self) -> None:
        self.terminal.show(await _collect(self.app, self.conversation))
        self.terminal.show(await self._ended_elsewhere())

    async def _ended_elsewhere(self) -> list[Reply]:
        """The agent handed back or closed in the console. The server cannot resume a conversation
        whose state lives in this process (without Redis), so this process does it."""
        engine, desk = self.app.engine, self.app.services.handoffs
        if not await engine.in_handoff(self.conversation) or await desk.open_for(self.conversation):
            return []
        last = await desk.last_for(self.conversation)
        status = last.status if last else None
        late = await _collect(self.app, self.conversation)  # the agent's last words come before the notice
        return late + await engine.resume(self.conversation, ENDED_LEADS.get(status or "", "agent.handed_back"))


async def chat(settings: Settings, user: str | None = None, stdin: TextIO = sys.stdin,
               stdout: TextIO = sys.stdout) -> None:
    await upgrade_async(settings.database_url)
    app = build(settings, channels_only=("cli",), channels_skip=())
    terminal = Terminal(stdout, settings.var_dir / "downloads", interactive=stdin.isatty() and stdout.isatty())
    app.channels.register("cli", TerminalSender(terminal))
    session = ChatSession(app, terminal, f"cli:{user or os.environ.get('USER', 'local')}")
    dispatcher = asyncio.create_task(app.dispatcher.run_forever())
    stdout.write("creditbot terminal chat. Type 帮助 / help, 取消 / cancel; Ctrl-D to quit.\n")
    try:
        await _loop(session, stdin)
    finally:
        app.dispatcher.stop()
        await dispatcher
        await app.close()


async def _loop(session: ChatSession, stdin: TextIO) -> None:
    terminal = session.terminal
    await session.turn("/start")
    watcher = asyncio.create_task(session.watch())
    try:
        while True:
            line = await _prompted(terminal, stdin)
            if line is None:
                return
            message = terminal.to_message(line)  # against the buttons the person saw when typing
            if message.strip():
                await session.turn(message, kind="button" if message.startswith("/") else "text")
    finally:
        watcher.cancel()
        await asyncio.gather(watcher, return_exceptions=True)


async def _prompted(terminal: Terminal, stdin: TextIO) -> str | None:
    secret = terminal.secret_next
    if terminal.interactive and not secret:
        terminal.out.write(PROMPT)
        terminal.out.flush()
    terminal.prompting = True
    try:
        return await asyncio.to_thread(_read, stdin, secret and stdin.isatty())
    finally:
        terminal.prompting = False


def _read(stdin: TextIO, hidden: bool) -> str | None:
    if hidden:
        try:
            return getpass.getpass(SECRET_PROMPT)
        except EOFError:
            return None
    line = stdin.readline()
    return None if line == "" else line


async def _collect(app: App, conversation: str) -> list[Reply]:
    """Messages the server left for this conversation (REST format), back into replies."""
    return [reply for body in await app.services.outbox.take(conversation) if (reply := _from_body(body))]


def _from_body(body: dict[str, Any]) -> Reply | None:
    custom = body.get("custom") or {}
    link = body.get("image") or (body.get("attachment") or {}).get("url")
    text = " ".join(part for part in (body.get("text"), link) if part)
    if not text:
        return None
    buttons = tuple(Button(b["title"], b["payload"]) for b in body.get("buttons") or ())
    return Text(text, buttons, secret_input=custom.get("input") == "secret", agent=custom.get("agent") or "")
