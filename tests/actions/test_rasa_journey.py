"""A whole run through the action server, as a Rasa assistant would drive it: register, log in,
verify a bank card, open quick query, request a report and fetch the result; SMS codes come from
the sandbox inbox. Nothing secret may appear in any slot, event or response on the way."""

from __future__ import annotations

import json
from typing import Any

from fakes import CAPTCHA
from rasa_payloads import Conversation, new_sender
from rasa_people import entity, last_code, persona_p1
from rasa_sim import Assistant

from backend.services import Services


async def test_registration_to_result(assistant: Assistant, backend: Services) -> None:
    person, conv = persona_p1(), Conversation(new_sender("journey"))
    codes: list[str] = []

    async def code() -> str:
        codes.append(await last_code(backend, person.phone))
        return codes[-1]

    await assistant.start(conv, "register_form", "我要注册", "register")
    for answer in (person.name, "居民身份证", person.id_number.lower(), CAPTCHA):
        await assistant.say(conv, answer)
    await assistant.say(conv, "同意", "affirm")
    for answer in (person.login_name, person.password, person.password, person.phone):
        await assistant.say(conv, answer)
    await assistant.say(conv, await code())
    assert "utter_registered" in assistant.said_names

    await assistant.start(conv, "login_form", "登录", "login")
    for answer in (person.login_name, person.password, CAPTCHA):
        await assistant.say(conv, answer)
    assert conv.slots["logged_in"] is True

    await assistant.start(conv, "bank_card_form", "银行卡验证", "bank_card")
    for answer in (person.card, person.name, "0", person.id_number, person.phone):
        await assistant.say(conv, answer)
    await assistant.say(conv, await code())
    await assistant.say(conv, CAPTCHA)
    assert conv.slots["security_level"] == "high"

    await assistant.start(conv, "quick_query_form", "开通快捷查询", "quick_query")
    await assistant.say(conv, person.phone)
    await assistant.say(conv, "开通", "affirm")
    assert "utter_quick_query_opened" in assistant.said_names

    await assistant.start(conv, "request_report_form", "我要查信用报告", "request_report")
    await assistant.say(conv, "个人信用报告")
    await assistant.say(conv, await code())
    submitted = next(r for r in assistant.said if r.get("response") == "utter_request_submitted")
    number = str(submitted["number"])

    await assistant.start(conv, "fetch_result_form", f"获取结果 #{number}", "fetch_result",
                          [entity("request_id", f"#{number}")])
    await assistant.say(conv, await code())
    assert assistant.said_names[-3:] == ["utter_result_report", "utter_result_document", "utter_result_more"]
    document = assistant.said[-2]
    assert document["attachment"]["url"].startswith("http://127.0.0.1:8080/files/")
    assert document["attachment"]["filename"].endswith(".pdf")
    assert (await backend.queries.get(int(number))).status == "delivered"

    assert_nothing_secret(assistant.said, conv, [person.password, person.card],
                          [person.id_number, person.phone, person.name], codes)


def assert_nothing_secret(said: list[dict[str, Any]], conv: Conversation, secrets: list[str],
                          personal: list[str], codes: list[str]) -> None:
    """Secrets are in no slot and no response; personal data only masked in responses; codes in no slot.

    The person's own messages (user events) carry what they typed, as in any Rasa tracker.
    """
    slot_values = [str(e["value"]) for e in conv.events if e["event"] == "slot"]
    responses = json.dumps(said, ensure_ascii=False)
    for secret in secrets:
        assert not any(secret in value for value in slot_values), secret
        assert secret not in responses, secret
    for value in personal:
        assert value not in responses, value
    assert not set(codes) & set(slot_values)


async def test_a_registered_document_is_said_only_after_captcha_and_phone_code(assistant: Assistant,
                                                                               backend: Services) -> None:
    """Saying it at the document question answered "is this person registered?" for anyone."""
    from rasa_people import create_account, new_person
    from sqlalchemy import func, select

    from backend.models import Account

    owner = new_person()
    await create_account(backend, owner)
    stranger = new_person()  # another phone and login name, the owner's document
    conv = Conversation(new_sender("twice"))
    await assistant.start(conv, "register_form", "我要注册", "register")
    for answer in (owner.name, "居民身份证", owner.id_number, CAPTCHA):
        await assistant.say(conv, answer)
        assert "utter_invalid_identity_taken" not in assistant.said_names
    await assistant.say(conv, "同意", "affirm")
    for answer in (stranger.login_name, stranger.password, stranger.password, stranger.phone):
        await assistant.say(conv, answer)
    async with backend.db.sessions() as session:
        before = await session.scalar(select(func.count(Account.id)))
    await assistant.say(conv, await last_code(backend, stranger.phone))
    assert assistant.said_names[-1] == "utter_invalid_identity_taken"
    async with backend.db.sessions() as session:
        assert await session.scalar(select(func.count(Account.id))) == before  # nothing half-written
