"""CASES.md B17 and B19 through the action server, with Rasa's form steps played by rasa_sim."""

from __future__ import annotations

from fakes import CAPTCHA
from rasa_payloads import ActionClient, Conversation, new_sender
from rasa_people import create_account, entity, last_code, log_in, new_person
from rasa_sim import Assistant

from backend.identity_rules import check_char
from backend.services import Services


def wrong_check_digit(id_number: str) -> str:
    right = check_char(id_number[:17])
    return id_number[:17] + next(c for c in "0123456789" if c != right)


async def test_b17_all_slots_in_one_sentence_validates_the_id_and_keeps_name_and_phone(
        assistant: Assistant, backend: Services) -> None:
    person = new_person("王小明")
    bad_id = wrong_check_digit(person.id_number)
    text = f"我叫王小明，身份证号{bad_id}，手机{person.phone[:3]}-{person.phone[3:7]}-{person.phone[7:]}"
    conv = Conversation(new_sender("b17"))
    entities = [entity("person_name", "王小明"), entity("id_number", bad_id),
                entity("phone", f"{person.phone[:3]}-{person.phone[3:7]}-{person.phone[7:]}")]

    await assistant.start(conv, "register_form", text, "register", entities)

    assert assistant.said_names == ["utter_invalid_id_number_check_digit", "utter_ask_id_number"]
    assert conv.slots["id_number"] is None
    assert (conv.slots["name"], conv.slots["phone"], conv.slots["id_type"]) == ("王小明", person.phone, "0")
    assert not await backend.accounts.identity_exists("0", person.id_number)

    await assistant.say(conv, person.id_number)
    await assistant.say(conv, CAPTCHA)
    await assistant.say(conv, "accept", "affirm")
    await assistant.say(conv, person.login_name)
    await assistant.say(conv, person.password)
    await assistant.say(conv, person.password)
    assert "utter_ask_phone" not in assistant.said_names  # kept from the first sentence
    await assistant.say(conv, await last_code(backend, person.phone))

    assert assistant.said_names.count("utter_registered") == 1
    assert "utter_ask_name" not in assistant.said_names
    assert await backend.accounts.identity_exists("0", person.id_number)


async def test_b17_submit_refuses_an_invalid_id_even_when_rasa_calls_it(client: ActionClient,
                                                                        backend: Services) -> None:
    person = new_person()
    conv = Conversation(new_sender("b17submit"))
    conv.set(name=person.name, id_type="0", id_number=wrong_check_digit(person.id_number), captcha="passed",
             agreement="accept", login_name=person.login_name, password="sealed", password_confirm="sealed",
             phone=person.phone, sms_code="verified")

    result = await client.act(conv, "action_register")

    assert result.names == ["utter_form_incomplete"]
    assert not await backend.accounts.login_name_exists(person.login_name)


async def test_b19_form_started_with_an_invalid_phone_says_the_error_once_then_asks_once(
        assistant: Assistant, backend: Services) -> None:
    person = new_person()
    await create_account(backend, person, verified=True)
    conv = await log_in(assistant, person)
    conv.set(phone="1550000010")  # from earlier chat: 10 digits
    assistant.said.clear()

    await assistant.start(conv, "quick_query_form", "开通快捷查询", "quick_query")

    assert assistant.said_names == ["utter_invalid_phone_format", "utter_ask_quick_query_form_phone"]
    assert conv.slots["phone"] is None
    assert conv.slots["requested_slot"] == "phone"
