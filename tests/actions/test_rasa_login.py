"""validate_login_form, action_login and action_logout over HTTP; the log-in lives in the backend store."""

from __future__ import annotations

from fakes import CAPTCHA
from rasa_payloads import ActionClient, Conversation, new_sender
from rasa_people import create_account, log_in, new_person
from rasa_sim import Assistant

from backend.services import Services


async def test_logging_in_binds_the_sender_and_says_the_level(assistant: Assistant, backend: Services) -> None:
    person = new_person()
    await create_account(backend, person)
    conv = await log_in(assistant, person)
    logged_in = next(r for r in assistant.said if r.get("response") == "utter_logged_in")
    assert (logged_in["account_name"], logged_in["level"]) == (person.login_name, "低")
    assert (conv.slots["logged_in"], conv.slots["security_level"]) == (True, "low")
    assert conv.slots["password"] is None and conv.slots["login_name"] is None


async def test_the_level_is_said_in_english_when_the_chat_is_in_english(assistant: Assistant,
                                                                         backend: Services) -> None:
    person = new_person()
    await create_account(backend, person)
    conv = Conversation(new_sender("en"))
    conv.set(language="en")
    await log_in(assistant, person, conv)
    assert next(r for r in assistant.said if r.get("response") == "utter_logged_in")["level"] == "low"


async def test_a_wrong_password_says_one_thing_and_asks_again(assistant: Assistant, backend: Services) -> None:
    person = new_person()
    await create_account(backend, person)
    conv = Conversation(new_sender("wrong"))
    await assistant.start(conv, "login_form", "登录", "login")
    await assistant.say(conv, person.login_name)
    await assistant.say(conv, "Wrong-pass1")
    await assistant.say(conv, CAPTCHA)
    assert assistant.said_names[-2:] == ["utter_login_failed", "utter_ask_login_form_login_name"]
    assert conv.active_loop == "login_form" and conv.slots.get("logged_in") is not True


async def test_an_unknown_name_gets_the_same_answer(assistant: Assistant) -> None:
    conv = Conversation(new_sender("unknown"))
    await assistant.start(conv, "login_form", "登录", "login")
    for answer in ("nobody_here", "Abc12345!", CAPTCHA):
        await assistant.say(conv, answer)
    assert "utter_login_failed" in assistant.said_names


async def test_the_password_is_not_checked_for_shape_at_log_in(client: ActionClient) -> None:
    conv = Conversation(new_sender("shape"), active_loop="login_form")
    conv.set(requested_slot="password")
    conv.user("x")
    result = await client.validate(conv, "login_form")
    assert (result.slots["password"], result.responses) == ("sealed", [])


async def test_logged_in_senders_are_not_asked_to_log_in_or_register(assistant: Assistant,
                                                                      backend: Services) -> None:
    person = new_person()
    await create_account(backend, person)
    conv = await log_in(assistant, person)
    assistant.said.clear()
    await assistant.start(conv, "login_form", "登录", "login")
    await assistant.start(conv, "register_form", "注册", "register")
    assert assistant.said_names == ["utter_already_logged_in", "utter_already_logged_in"]
    assert assistant.said[0]["account_name"] == person.login_name


async def test_logging_out(assistant: Assistant, client: ActionClient, backend: Services) -> None:
    person = new_person()
    await create_account(backend, person)
    conv = await log_in(assistant, person)
    result = await client.act(conv, "action_logout")
    assert result.names == ["utter_logged_out"] and result.slots["logged_in"] is False
    assert (await client.act(conv, "action_logout")).names == ["utter_not_logged_in"]
