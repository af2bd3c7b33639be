"""validate_bank_card_form and action_verify_bank_card over HTTP: four elements, SMS code, captcha."""

from __future__ import annotations

from fakes import CAPTCHA
from rasa_payloads import ActionClient, Conversation, new_sender
from rasa_people import Person, create_account, last_code, log_in, new_person
from rasa_sim import Assistant

from backend.services import Services

FORM = "bank_card_form"


async def verify(assistant: Assistant, backend: Services, conv: Conversation, person: Person,
                 card: str, phone: str) -> None:
    await assistant.start(conv, FORM, "银行卡验证", "bank_card")
    for answer in (card, person.name, "身份证", person.id_number, phone):
        await assistant.say(conv, answer)
    await assistant.say(conv, await last_code(backend, phone))
    await assistant.say(conv, CAPTCHA)


async def test_nobody_logged_in_is_told_once(assistant: Assistant) -> None:
    await assistant.start(Conversation(new_sender("anon")), FORM, "银行卡验证", "bank_card")
    assert assistant.said_names == ["utter_login_required"]


async def test_a_verified_card_raises_the_level(assistant: Assistant, backend: Services) -> None:
    person = new_person()
    account_id = await create_account(backend, person)
    conv = await log_in(assistant, person)
    await verify(assistant, backend, conv, person, person.card, person.phone)
    verified = assistant.said[-1]
    assert verified["response"] == "utter_bank_card_verified"
    assert verified["card_masked"] == f"{person.card[:4]} **** **** {person.card[-4:]}"
    assert conv.slots["security_level"] == "high" and conv.slots["card"] is None
    assert (await backend.accounts.get(account_id)).security_level == "high"


async def test_the_bank_refusing_the_phone_asks_for_everything_again(assistant: Assistant,
                                                                      backend: Services) -> None:
    person, other = new_person(), new_person()
    await create_account(backend, person)
    conv = await log_in(assistant, person)
    await verify(assistant, backend, conv, person, person.card, other.phone)
    assert assistant.said_names[-3:] == ["utter_bank_card_mismatch", "utter_bank_card_retry", "utter_ask_card"]
    assert conv.active_loop == FORM and conv.slots["phone"] is None


async def test_someone_elses_details_are_refused(assistant: Assistant, backend: Services) -> None:
    person, other = new_person(), new_person("钱其他")
    await create_account(backend, person)
    await create_account(backend, other)
    conv = await log_in(assistant, person)
    await verify(assistant, backend, conv, other, other.card, other.phone)
    assert "utter_bank_card_not_holder" in assistant.said_names


async def test_card_numbers_are_checked_and_sealed(client: ActionClient, assistant: Assistant,
                                                  backend: Services) -> None:
    person = new_person()
    await create_account(backend, person)
    conv = await log_in(assistant, person)
    conv.active_loop = FORM
    for typed, slot, names in (("6200 0000 0000 0000 017", None, ["utter_invalid_card_luhn"]),
                               ("6200-00", None, ["utter_invalid_card_format"]),
                               ("６２００ ００００ ００００ ００００ ０１８", "sealed", [])):
        conv.set(requested_slot="card")
        conv.user(typed)
        result = await client.validate(conv, FORM)
        assert (result.slots["card"], result.names) == (slot, names)
        assert "6200000000000000018" not in str(result.events)


async def test_a_session_that_ended_stops_the_form_quietly(client: ActionClient) -> None:
    conv = Conversation(new_sender("gone"), active_loop=FORM)
    conv.set(requested_slot="name")
    conv.user("王小明")
    result = await client.validate(conv, FORM, name="王小明")
    assert result.slots == {"requested_slot": None} and result.responses == []
    assert (await client.act(conv, "action_verify_bank_card")).names == ["utter_login_required"]


async def test_a_card_number_fills_no_other_slot_even_if_an_extractor_saw_an_id_in_it(
        client: ActionClient, assistant: Assistant, backend: Services) -> None:
    person = new_person()
    await create_account(backend, person)
    conv = await log_in(assistant, person)
    conv.active_loop = FORM
    conv.set(requested_slot="card")
    conv.user(person.card, entities=[{"entity": "id_number", "value": person.card[:18]}])
    result = await client.validate(conv, FORM, id_number=person.card[:18])
    assert result.slots == {"card": "sealed", "id_number": None}
    assert result.responses == []
