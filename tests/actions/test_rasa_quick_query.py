"""validate_quick_query_form, its questions and action_quick_query over HTTP."""

from __future__ import annotations

from rasa_payloads import Conversation
from rasa_people import Person, create_account, log_in, new_person
from rasa_sim import Assistant

from backend.services import Services

FORM = "quick_query_form"


async def logged_in(assistant: Assistant, backend: Services, **state: bool) -> tuple[Person, Conversation, int]:
    person = new_person()
    account_id = await create_account(backend, person, **state)
    conv = await log_in(assistant, person)
    assistant.said.clear()
    return person, conv, account_id


async def test_a_low_level_account_is_sent_to_bank_card_verification(assistant: Assistant,
                                                                      backend: Services) -> None:
    _, conv, _ = await logged_in(assistant, backend)
    await assistant.start(conv, FORM, "开通快捷查询", "quick_query")
    assert assistant.said_names == ["utter_quick_query_needs_high"]


async def test_opening_quick_query(assistant: Assistant, backend: Services) -> None:
    person, conv, account_id = await logged_in(assistant, backend, verified=True)
    await assistant.start(conv, FORM, "开通快捷查询", "quick_query")
    await assistant.say(conv, person.phone)
    await assistant.say(conv, "好的", "affirm")
    assert assistant.said_names == ["utter_ask_quick_query_form_phone", "utter_ask_decision_open",
                                    "utter_quick_query_opened"]
    assert (await backend.accounts.get(account_id)).quick_query


async def test_another_phone_than_the_accounts_is_refused(assistant: Assistant, backend: Services) -> None:
    _, conv, _ = await logged_in(assistant, backend, verified=True)
    await assistant.start(conv, FORM, "开通快捷查询", "quick_query")
    await assistant.say(conv, new_person().phone)
    assert assistant.said_names[-2:] == ["utter_invalid_phone_not_account", "utter_ask_quick_query_form_phone"]


async def test_when_open_it_offers_to_close_and_keeps_it_on_no(assistant: Assistant, backend: Services) -> None:
    person, conv, account_id = await logged_in(assistant, backend, verified=True, quick=True)
    await assistant.start(conv, FORM, "快捷查询设置", "quick_query")
    await assistant.say(conv, person.phone)
    await assistant.say(conv, "保持开通", "deny")
    assert assistant.said_names[-2:] == ["utter_ask_decision_close", "utter_quick_query_kept"]
    assert (await backend.accounts.get(account_id)).quick_query
