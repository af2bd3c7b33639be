"""validate_quick_query_form, its questions and action_quick_query over HTTP.

Opening quick query needs identity verification, as in the built-in dialogs: a bank card verified just
now, or the bank-card form that follows, which opens quick query when it succeeds.
"""

from __future__ import annotations

from fakes import CAPTCHA
from rasa_payloads import ActionClient, Conversation
from rasa_people import Person, create_account, last_code, log_in, new_person
from rasa_sim import Assistant

from backend.services import Services

FORM = "quick_query_form"
CARD_FORM = "bank_card_form"


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


async def ask_to_open(assistant: Assistant, conv: Conversation, person: Person) -> None:
    await assistant.start(conv, FORM, "开通快捷查询", "quick_query")
    await assistant.say(conv, person.phone)
    await assistant.say(conv, "好的", "affirm")


async def answer_card_form(assistant: Assistant, backend: Services, conv: Conversation, person: Person,
                           card: str | None = None) -> None:
    """Answers the open bank-card form's questions (the form is already asking for the card)."""
    assert conv.active_loop == CARD_FORM
    for answer in (card or person.card, person.name, "身份证", person.id_number, person.phone):
        await assistant.say(conv, answer)
    await assistant.say(conv, await last_code(backend, person.phone))
    await assistant.say(conv, CAPTCHA)


async def verify_card(assistant: Assistant, backend: Services, conv: Conversation, person: Person) -> None:
    await assistant.start(conv, CARD_FORM, "银行卡验证", "bank_card")
    await answer_card_form(assistant, backend, conv, person)


async def test_opening_sends_a_verified_account_through_bank_card_verification_first(
        assistant: Assistant, backend: Services) -> None:
    person, conv, account_id = await logged_in(assistant, backend, verified=True)
    await ask_to_open(assistant, conv, person)
    assert assistant.said_names == ["utter_ask_quick_query_form_phone", "utter_ask_decision_open",
                                    "utter_quick_query_needs_verification", "utter_ask_card"]
    assert conv.active_loop == CARD_FORM
    assert not (await backend.accounts.get(account_id)).quick_query  # not before the verification
    assistant.said.clear()
    await answer_card_form(assistant, backend, conv, person)
    assert assistant.said_names[-2:] == ["utter_bank_card_verified_for_quick_query", "utter_quick_query_opened"]
    assert (await backend.accounts.get(account_id)).quick_query


async def test_a_card_verified_just_now_opens_it_without_asking_again(assistant: Assistant,
                                                                      backend: Services) -> None:
    person, conv, account_id = await logged_in(assistant, backend)
    await verify_card(assistant, backend, conv, person)
    assert assistant.said_names[-1] == "utter_bank_card_verified"
    assistant.said.clear()
    await ask_to_open(assistant, conv, person)
    assert assistant.said_names == ["utter_ask_quick_query_form_phone", "utter_ask_decision_open",
                                    "utter_quick_query_opened"]
    assert (await backend.accounts.get(account_id)).quick_query


async def test_a_verification_counts_for_one_opening_only(assistant: Assistant, backend: Services) -> None:
    person, conv, account_id = await logged_in(assistant, backend)
    await verify_card(assistant, backend, conv, person)
    await ask_to_open(assistant, conv, person)
    await assistant.start(conv, FORM, "关闭快捷查询", "quick_query")  # closing needs no verification
    await assistant.say(conv, person.phone)
    await assistant.say(conv, "关闭", "affirm")
    assert assistant.said_names[-1] == "utter_quick_query_closed"
    assert not (await backend.accounts.get(account_id)).quick_query
    assistant.said.clear()
    await ask_to_open(assistant, conv, person)
    assert assistant.said_names[-2:] == ["utter_quick_query_needs_verification", "utter_ask_card"]
    assert not (await backend.accounts.get(account_id)).quick_query


async def test_a_failed_verification_leaves_it_closed(assistant: Assistant, backend: Services) -> None:
    person, conv, account_id = await logged_in(assistant, backend, verified=True)
    stranger = new_person("钱其他")
    await create_account(backend, stranger)
    await ask_to_open(assistant, conv, person)
    for attempt in range(3):  # the bank refuses someone else's card; the third failure ends the form
        await answer_card_form(assistant, backend, conv, person, card=stranger.card)
    assert assistant.said_names[-2:] == ["utter_bank_card_mismatch", "utter_bank_card_too_many"]
    assert conv.active_loop is None
    assert not (await backend.accounts.get(account_id)).quick_query
    await verify_card(assistant, backend, conv, person)  # a later verification on its own opens nothing
    assert assistant.said_names[-1] == "utter_bank_card_verified"
    assert not (await backend.accounts.get(account_id)).quick_query


async def test_cancelling_the_verification_forgets_the_opening(client: ActionClient, assistant: Assistant,
                                                               backend: Services) -> None:
    person, conv, account_id = await logged_in(assistant, backend, verified=True)
    await ask_to_open(assistant, conv, person)
    assert conv.active_loop == CARD_FORM
    conv.user("取消", "cancel")
    assert (await client.act(conv, "action_cancel")).names == ["utter_cancelled"]
    await verify_card(assistant, backend, conv, person)
    assert assistant.said_names[-1] == "utter_bank_card_verified"
    assert not (await backend.accounts.get(account_id)).quick_query


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
