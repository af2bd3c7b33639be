"""Fakes and helpers shared by the tests: settings for a temp folder, a transcript-style chat driver."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from backend.identity_rules import normalize_phone
from backend.settings import Settings
from bot.wiring import App
from dialogs.types import Document, Image, Reply, Text, Turn

ENCRYPTION_KEY = "q3cH0m1v5tJ6Zr6f0zq3Z7l3b1g0uE2mQ7k1l9u3b8Y="
CAPTCHA = "TEST"

P1 = {"name": "王小明", "id_number": "110105199003071239", "phone": "15500000101", "card": "6200000000000000018"}


def make_settings(tmp: Path, **overrides: Any) -> Settings:
    env = {"CREDITBOT_ENV": "sandbox", "CREDITBOT_VAR_DIR": str(tmp), "CREDITBOT_ENCRYPTION_KEY": ENCRYPTION_KEY,
           "CREDITBOT_CAPTCHA_TEST_ANSWER": CAPTCHA, "CREDITBOT_REPORT_DELAY": "60"}
    env.update({k: str(v) for k, v in overrides.items()})
    return Settings.from_env(env)


class Chat:
    """Feeds turns to the real engine and keeps the replies, like a person reading the chat."""

    def __init__(self, app: App, conversation_id: str, locale: str | None = None) -> None:
        self.app = app
        self.conversation_id = conversation_id
        self.locale = locale
        self.history: list[Reply] = []
        self._ref = 0

    async def say(self, text: str, kind: str = "text") -> list[Reply]:
        self._ref += 1
        turn = Turn(channel=self.conversation_id.split(":")[0], conversation_id=self.conversation_id, text=text,
                    kind=kind, message_ref=f"{self.conversation_id}:{self._ref}", locale=self.locale)  # type: ignore[arg-type]
        replies = await self.app.engine.handle(turn)
        self.history.extend(replies)
        return replies

    async def tap(self, payload: str) -> list[Reply]:
        return await self.say(payload, kind="button")

    async def send(self, kind: str) -> list[Reply]:
        turn = Turn(channel="rest", conversation_id=self.conversation_id, kind=kind)  # type: ignore[arg-type]
        replies = await self.app.engine.handle(turn)
        self.history.extend(replies)
        return replies

    async def last_code(self, phone: str) -> str:
        number = normalize_phone(phone).value  # type: ignore[union-attr]
        inbox = await self.app.services.sms.inbox(number)  # type: ignore[attr-defined]
        return re.findall(r"\d{6}", inbox[-1].text)[0]

    @staticmethod
    def texts(replies: list[Reply]) -> str:
        return "\n".join(r.text for r in replies if isinstance(r, Text))


def texts_of(replies: list[Reply]) -> str:
    return Chat.texts(replies)


def images_of(replies: list[Reply]) -> list[Image]:
    return [r for r in replies if isinstance(r, Image)]


def documents_of(replies: list[Reply]) -> list[Document]:
    return [r for r in replies if isinstance(r, Document)]


async def register(chat: Chat, person: dict[str, str] = P1, login: str = "wangxm01",
                   password: str = "Abc12345!") -> None:
    await chat.say("注册")
    await chat.say(person["name"])
    await chat.tap("/id_type:0")
    await chat.say(person["id_number"])
    await chat.say(CAPTCHA)
    await chat.tap("/agreement:accept")
    await chat.say(login)
    await chat.say(password)
    await chat.say(password)
    await chat.say(person["phone"])
    replies = await chat.say(await chat.last_code(person["phone"]))
    assert "注册成功" in texts_of(replies), texts_of(chat.history[-12:])


async def login(chat: Chat, login_name: str = "wangxm01", password: str = "Abc12345!") -> list[Reply]:
    await chat.say("登录")
    await chat.say(login_name)
    await chat.say(password)
    return await chat.say(CAPTCHA)


async def verify_card(chat: Chat, person: dict[str, str] = P1) -> list[Reply]:
    await chat.say(person["card"])
    await chat.say(person["name"])
    await chat.tap("/id_type:0")
    await chat.say(person["id_number"])
    await chat.say(person["phone"])
    await chat.say(await chat.last_code(person["phone"]))
    return await chat.say(CAPTCHA)
