"""`creditbot chat`: the same engine in a terminal; buttons become numbered choices, files are saved."""

from __future__ import annotations

import asyncio
import getpass
import os
import sys
from pathlib import Path
from typing import TextIO

from backend.delivery import Delivery
from backend.migrate import upgrade_async
from backend.settings import Settings
from bot.errors import handle_safely
from bot.wiring import App, build
from dialogs.types import Button, Delete, Document, Image, Reply, Text, Turn, Typing


class Terminal:
    """Rendering only: keeps the buttons last shown so a typed number can pick one."""

    def __init__(self, out: TextIO, files_dir: Path) -> None:
        self.out = out
        self.files_dir = files_dir
        self.buttons: tuple[Button, ...] = ()
        self.secret_next = False

    def show(self, replies: list[Reply]) -> None:
        for reply in replies:
            self._one(reply)
        self.out.flush()

    def _one(self, reply: Reply) -> None:
        if isinstance(reply, Text):
            speaker = f"{reply.agent} (agent)" if reply.agent else "bot"
            self.out.write(f"{speaker}> {reply.text}\n")
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
    def __init__(self, terminal: Terminal) -> None:
        self.terminal = terminal

    async def send(self, conversation_id: str, replies: list[Reply]) -> Delivery:
        self.terminal.out.write("\n")
        self.terminal.show(replies)
        return Delivery("sent")


async def chat(settings: Settings, user: str | None = None, stdin: TextIO = sys.stdin,
               stdout: TextIO = sys.stdout) -> None:
    await upgrade_async(settings.database_url)
    app = build(settings, channels_only=("cli",), channels_skip=())
    terminal = Terminal(stdout, settings.var_dir / "downloads")
    app.channels.register("cli", TerminalSender(terminal))
    conversation = f"cli:{user or os.environ.get('USER', 'local')}"
    dispatcher = asyncio.create_task(app.dispatcher.run_forever())
    stdout.write("creditbot terminal chat. Type 帮助 / help, 取消 / cancel; Ctrl-D to quit.\n")
    try:
        await _loop(app, terminal, conversation, stdin)
    finally:
        app.dispatcher.stop()
        await dispatcher
        await app.close()


async def _loop(app: App, terminal: Terminal, conversation: str, stdin: TextIO) -> None:
    terminal.show(await handle_safely(app.engine, Turn("cli", conversation, "/start")))
    while True:
        line = await asyncio.to_thread(_read, stdin, terminal.secret_next)
        if line is None:
            return
        message = terminal.to_message(line)
        if not message.strip():
            continue
        kind = "button" if message.startswith("/") else "text"
        terminal.show(await handle_safely(app.engine, Turn("cli", conversation, message, kind=kind)))
        terminal.show(await _collect(app, conversation))


async def _collect(app: App, conversation: str) -> list[Reply]:
    bodies = await app.services.outbox.take(conversation)
    return [Text(b.get("text", "")) for b in bodies if b.get("text")]


def _read(stdin: TextIO, secret: bool) -> str | None:
    if secret and stdin.isatty():
        try:
            return getpass.getpass("you (hidden)> ")
        except EOFError:
            return None
    if stdin.isatty():
        sys.stdout.write("you> ")
        sys.stdout.flush()
    line = stdin.readline()
    return None if line == "" else line
