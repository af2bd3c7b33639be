"""Helpers for the flow transcripts in tests/dialogs/flows: an app on the test clock, steps, state checks.

`build_clocked_app` mirrors `bot.wiring.build`, except that the key-value store reads the test clock,
so resend windows, code and conversation lifetimes move when a test calls `clock.advance()`
(`build` makes a `MemoryKeyValueStore` on `time.monotonic`, which a fixed clock cannot move).
"""

from __future__ import annotations

import json
from typing import Any

from fakes import CAPTCHA, P1, Chat, register, texts_of, verify_card
from sqlalchemy import func, select

from backend.models import Account, QueryRequest
from bot.wiring import App
from dialogs.types import Delete, Image, Reply, Text

# CASES.md test data: all invented.
P2 = {"name": "李建国", "id_number": "11010519691231007X", "phone": "16600000202", "card": "6200000000000120"}
P3 = {"name": "张伟", "id_number": "510107198712030010", "phone": "17300000303", "card": "6200000000000003038"}
P4 = {"name": "阿依古丽·买买提", "id_number": "650102199506012464", "phone": "19200000404",
      "card": "6200000000000004044"}
PASSWORD = "Abc12345!"
WRONG_CAPTCHA = "0000"  # 0 is not in the captcha alphabet, so this never matches


# -- reading replies ----------------------------------------------------------------------------

def last_text(replies: list[Reply]) -> str:
    """The last text reply: after an error or a notice, the question asked (again)."""
    texts = [r.text for r in replies if isinstance(r, Text)]
    assert texts, replies
    return texts[-1]


def buttons_of(replies: list[Reply]) -> list[str]:
    return [b.payload for r in replies if isinstance(r, Text) for b in r.buttons]


def deletes_of(replies: list[Reply]) -> list[str]:
    return [r.message_ref for r in replies if isinstance(r, Delete)]


def has_image(replies: list[Reply]) -> bool:
    return any(isinstance(r, Image) for r in replies)


def last_ref(chat: Chat) -> str:
    """The platform reference of the message the chat sent last (what a Delete must name)."""
    return f"{chat.conversation_id}:{chat._ref}"


def all_texts(chat: Chat) -> str:
    return texts_of(chat.history)


# -- stored state -------------------------------------------------------------------------------

async def state_of(app: App, chat: Chat) -> dict[str, Any]:
    """The session and the open flow, as stored (two keys: the flow part expires on its own)."""
    session = await app.services.kv.get(f"conv:{chat.conversation_id}") or {}
    flow = await app.services.kv.get(f"flow:{chat.conversation_id}") or {}
    return {**session, "flow": None, "slots": {}, "asked": None, "stack": [], **flow}


async def state_json(app: App, chat: Chat) -> str:
    return json.dumps(await state_of(app, chat), ensure_ascii=False)


async def asked(app: App, chat: Chat) -> tuple[str | None, str | None]:
    state = await state_of(app, chat)
    return state.get("flow"), state.get("asked")


async def count_rows(app: App, model: type[Any]) -> int:
    async with app.services.db.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def accounts_count(app: App) -> int:
    return await count_rows(app, Account)


async def requests_count(app: App) -> int:
    return await count_rows(app, QueryRequest)


async def sms_count(app: App, phone: str) -> int:
    return len(await app.services.sms.inbox(phone))  # type: ignore[attr-defined]


async def code_for(chat: Chat, phone: str) -> str:
    return await chat.last_code(phone)


def wrong_code(code: str) -> str:
    return f"{(int(code) + 1) % 10**6:06d}"


# -- walking to a step --------------------------------------------------------------------------

REGISTER_STEPS = ("name", "id_type", "id_number", "captcha", "agreement", "login_name", "password",
                  "password_confirm", "phone", "sms_code")


async def register_until(chat: Chat, step: str, person: dict[str, str] = P1, login: str = "wangxm01",
                         password: str = PASSWORD) -> list[Reply]:
    """Starts registration and answers every question before `step`; returns the last replies."""
    answers = {"name": person["name"], "id_type": "/id_type:0", "id_number": person["id_number"],
               "captcha": CAPTCHA, "agreement": "/agreement:accept", "login_name": login,
               "password": password, "password_confirm": password, "phone": person["phone"]}
    replies = await chat.say("/register")
    for name in REGISTER_STEPS[: REGISTER_STEPS.index(step)]:
        text = answers[name]
        replies = await (chat.tap(text) if text.startswith("/") else chat.say(text))
    return replies


async def login_until(chat: Chat, step: str, login: str = "wangxm01", password: str = PASSWORD) -> list[Reply]:
    answers = {"login_name": login, "password": password}
    replies = await chat.say("/login")
    for name in ("login_name", "password")[: ("login_name", "password", "captcha").index(step)]:
        replies = await chat.say(answers[name])
    return replies


async def log_in(chat: Chat, login: str = "wangxm01", password: str = PASSWORD) -> list[Reply]:
    await login_until(chat, "captcha", login, password)
    replies = await chat.say(CAPTCHA)
    assert "登录成功" in texts_of(replies), texts_of(replies)
    return replies


async def answer_login(chat: Chat, login: str = "wangxm01", password: str = PASSWORD) -> list[Reply]:
    """Answers log-in questions already asked (a flow that needs the log-in asked for it first)."""
    await chat.say(login)
    await chat.say(password)
    replies = await chat.say(CAPTCHA)
    assert "登录成功" in texts_of(replies), texts_of(replies)
    return replies


async def verify_card_until(chat: Chat, step: str, person: dict[str, str] = P1) -> list[Reply]:
    """From the card question of a running bank-card flow, answers everything before `step`."""
    steps = ("card", "name", "id_type", "id_number", "phone", "sms_code", "captcha")
    answers = {"card": person["card"], "name": person["name"], "id_type": "/id_type:0",
               "id_number": person["id_number"], "phone": person["phone"]}
    replies: list[Reply] = []
    for name in steps[: steps.index(step)]:
        if name == "sms_code":
            replies = await chat.say(await chat.last_code(person["phone"]))
        else:
            text = answers[name]
            replies = await (chat.tap(text) if text.startswith("/") else chat.say(text))
    return replies


async def quick_user(chat: Chat, person: dict[str, str] = P1, login: str = "wangxm01") -> None:
    """Registered, logged in, bank card verified and quick query open."""
    await register(chat, person, login)
    await log_in(chat, login)
    await chat.tap("/bank_card")
    await verify_card(chat, person)
    await chat.tap("/decision:open")


async def submit_request(chat: Chat, product: str = "report", person: dict[str, str] = P1) -> list[Reply]:
    """A quick-query user asks for a product and confirms with the dynamic code."""
    await chat.tap("/request_report")
    await chat.tap(f"/product:{product}")
    replies = await chat.say(await chat.last_code(person["phone"]))
    assert "查询申请已提交" in texts_of(replies), texts_of(replies)
    return replies
