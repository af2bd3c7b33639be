"""Invented people for the Rasa tests (each test its own, since one action server serves them all),
and the steps that put them in a state: an account, a verified card, a logged-in sender."""

from __future__ import annotations

import itertools
import random
import re
from dataclasses import dataclass
from typing import Any

from fakes import CAPTCHA
from rasa_payloads import Conversation, new_sender
from rasa_sim import Assistant

from backend.accounts import NewAccount
from backend.bankcards import CardHolder
from backend.identity_rules import luhn_valid, make_test_id
from backend.services import Services

_PEOPLE = itertools.count(random.randrange(1000, 9000) * 100)
PASSWORD = "Abc12345!"
P1 = {"name": "王小明", "id_number": "110105199003071239", "phone": "15500000101", "card": "6200000000000000018"}


@dataclass(frozen=True)
class Person:
    name: str
    id_number: str
    phone: str
    card: str
    login_name: str
    password: str = PASSWORD
    id_type: str = "0"


def build_card(n: int) -> str:
    body = f"621700{n:012d}"
    return next(body + d for d in "0123456789" if luhn_valid(body + d))


def new_person(name: str = "赵测试") -> Person:
    n = next(_PEOPLE)
    birth = f"198{n % 10}{n % 12 + 1:02d}{n % 28 + 1:02d}"
    return Person(name=name, id_number=make_test_id("110101", birth, f"{n % 1000:03d}"), phone=f"1550{n:07d}",
                  card=build_card(n), login_name=f"rasa{n}", )


def persona_p1(login_name: str = "wangxm_rasa") -> Person:
    return Person(name=P1["name"], id_number=P1["id_number"], phone=P1["phone"], card=P1["card"],
                  login_name=login_name)


async def create_account(backend: Services, person: Person, *, verified: bool = False, quick: bool = False) -> int:
    account = await backend.accounts.register(NewAccount(
        name=person.name, id_type=person.id_type, id_number=person.id_number, login_name=person.login_name,
        password=person.password, phone=person.phone))
    await backend.bank.add(CardHolder(card=person.card, name=person.name, id_type=person.id_type,  # type: ignore[attr-defined]
                                      id_number=person.id_number, phone=person.phone))
    if verified:
        await backend.accounts.add_verified_card(account.id, person.card)
    if quick:
        await backend.accounts.set_quick_query(account.id, True)
    return account.id


async def log_in(assistant: Assistant, person: Person, conv: Conversation | None = None) -> Conversation:
    conv = conv or Conversation(new_sender("login"))
    await assistant.start(conv, "login_form", "登录", "login")
    await assistant.say(conv, person.login_name)
    await assistant.say(conv, person.password)
    await assistant.say(conv, CAPTCHA)
    assert "utter_logged_in" in assistant.said_names, assistant.said_names
    return conv


async def last_code(backend: Services, phone: str) -> str:
    inbox = await backend.sms.inbox(phone)  # type: ignore[attr-defined]
    return re.findall(r"\d{6}", inbox[-1].text)[0]


async def inbox_size(backend: Services, phone: str) -> int:
    return len(await backend.sms.inbox(phone))  # type: ignore[attr-defined]


def entity(name: str, value: Any) -> dict[str, Any]:
    return {"entity": name, "value": value, "extractor": "RegexEntityExtractor"}
