"""validate_register_form, its ask actions and action_register, called over HTTP as Rasa calls them."""

from __future__ import annotations

import pytest
from fakes import CAPTCHA
from rasa_payloads import ActionClient, Conversation, new_sender
from rasa_people import create_account, inbox_size, last_code, new_person

from backend.services import Services
from dialogs.flows.register import LOGIN_CHECKS_PER_HOUR

FORM = "register_form"


def registering(requested: str | None = None, **slots: object) -> Conversation:
    conv = Conversation(new_sender("reg"), active_loop=FORM)
    conv.set(requested_slot=requested, **slots)
    return conv


@pytest.mark.parametrize(("slot", "typed", "kept"), [
    ("name", " 王小明 ", "王小明"),
    ("name", "阿依古丽.买买提", "阿依古丽·买买提"),
    ("id_type", "居民身份证", "0"),
    ("id_type", "Passport", "2"),
    ("id_number", "11010519491231002x", "11010519491231002X"),
    ("phone", "+86 155-0000-0101", "15500000101"),
    ("phone", "１５５－００００－０１０１", "15500000101"),
    ("login_name", "Rasa_Good1", "Rasa_Good1"),
])
async def test_good_answers_are_kept_normalised_without_a_word(client: ActionClient, slot: str, typed: str,
                                                              kept: str) -> None:
    conv = registering(slot, id_type="0") if slot == "id_number" else registering(slot)
    conv.user(typed)
    result = await client.validate(conv, FORM, **{slot: typed})
    assert result.slots[slot] == kept
    assert result.responses == []


@pytest.mark.parametrize(("slot", "typed", "response"), [
    ("name", "Wang 123", "utter_invalid_name_format"),
    ("name", "阿依古丽 买买提", "utter_invalid_name_separator"),
    ("id_type", "借书证", "utter_invalid_id_type_unknown"),
    ("id_number", "110105199003071238", "utter_invalid_id_number_check_digit"),
    ("id_number", "110105199013071239", "utter_invalid_id_number_birth_date"),
    ("id_number", "12345", "utter_invalid_id_number_format"),
    ("phone", "1550000010", "utter_invalid_phone_format"),
    ("login_name", "9abcdef", "utter_invalid_login_name_format"),
    ("login_name", "abc", "utter_invalid_login_name_length"),
    ("captcha", "0000", "utter_invalid_captcha_mismatch"),
    ("agreement", "maybe", "utter_invalid_choice_unknown"),
])
async def test_a_bad_answer_is_said_once_and_the_slot_cleared(client: ActionClient, slot: str, typed: str,
                                                             response: str) -> None:
    conv = registering(slot, id_type="0")
    conv.user(typed)
    result = await client.validate(conv, FORM, **{slot: typed})
    assert result.slots[slot] is None
    assert result.names == [response]


async def test_a_taken_identity_and_login_name_are_refused(client: ActionClient, backend: Services) -> None:
    person = new_person()
    await create_account(backend, person)
    conv = registering("id_number", id_type="0")
    taken = await client.validate(conv, FORM, id_number=person.id_number)
    assert (taken.slots["id_number"], taken.names) == (person.id_number, [])  # not said here: no oracle
    conv.set(requested_slot="login_name")
    assert (await client.validate(conv, FORM, login_name=person.login_name.upper())).names == \
        ["utter_invalid_login_taken"]


async def test_login_names_are_looked_up_ten_times_an_hour_then_the_registration_ends(
        client: ActionClient, backend: Services) -> None:
    taken = new_person()
    await create_account(backend, taken)
    conv = registering("login_name", id_type="0")
    for attempt in range(LOGIN_CHECKS_PER_HOUR):
        conv.set(requested_slot="login_name")
        free = new_person().login_name
        result = await client.validate(conv, FORM, login_name=free)
        assert (result.slots["login_name"], result.names) == (free, []), attempt
    conv.set(requested_slot="login_name")
    # The eleventh lookup is refused before the database is asked, taken name or free one alike.
    refused = await client.validate(conv, FORM, login_name=taken.login_name)
    assert refused.names == ["utter_invalid_login_name_too_many"]
    assert refused.slots["login_name"] is None and refused.slots["requested_slot"] is None
    submitted = await client.act(conv, "action_register")
    assert submitted.names == []  # said once, by the validation; no "form incomplete" after it
    assert (await backend.accounts.login_name_exists(taken.login_name)) is True
    # A format error costs no lookup, and a new conversation has its own allowance.
    other = registering("login_name", id_type="0")
    assert (await client.validate(other, FORM, login_name=taken.login_name)).names == ["utter_invalid_login_taken"]


async def test_the_password_is_sealed_and_only_a_marker_reaches_the_tracker(client: ActionClient) -> None:
    conv = registering("password")
    conv.user("Abc12345!")
    result = await client.validate(conv, FORM)
    assert result.slots["password"] == "sealed"
    assert "Abc12345!" not in str(result.events) + str(result.responses)


@pytest.mark.parametrize(("typed", "response"), [
    ("abc", "utter_invalid_password_length"), ("abcdefghij", "utter_invalid_password_classes"),
    ("abc 12345!", "utter_invalid_password_spaces"), ("密码abc12345", "utter_invalid_password_charset"),
])
async def test_a_weak_password_is_refused(client: ActionClient, typed: str, response: str) -> None:
    conv = registering("password")
    conv.user(typed)
    result = await client.validate(conv, FORM)
    assert (result.slots["password"], result.names) == (None, [response])


async def test_a_different_confirmation_clears_both_passwords(client: ActionClient) -> None:
    conv = registering("password")
    conv.user("Abc12345!")
    await client.validate(conv, FORM)
    conv.set(requested_slot="password_confirm")
    conv.user("Abc12345?")
    result = await client.validate(conv, FORM)
    assert (result.slots["password"], result.slots["password_confirm"]) == (None, None)
    assert result.names == ["utter_invalid_password_mismatch"]


async def test_a_command_word_is_no_password_so_the_form_lets_rasa_handle_it(client: ActionClient) -> None:
    conv = registering("password")
    conv.user("取消", "cancel")
    result = await client.validate(conv, FORM)
    assert "password" not in result.slots and result.responses == []


async def test_an_answer_after_an_interruption_is_not_taken_for_the_password(client: ActionClient) -> None:
    conv = registering("password")
    conv.user("Abc12345!")
    conv.events.append({"event": "action", "name": "utter_help"})
    result = await client.validate(conv, FORM)
    assert "password" not in result.slots


async def test_the_code_is_texted_once_and_checked(client: ActionClient, backend: Services) -> None:
    person = new_person()
    conv = registering("sms_code", phone=person.phone)
    asked = await client.act(conv, f"action_ask_{FORM}_sms_code")
    assert asked.names == ["utter_code_sent", "utter_ask_sms_code"]
    assert asked.response("utter_code_sent")["phone_masked"] == f"{person.phone[:3]}****{person.phone[-4:]}"
    again = await client.act(conv, f"action_ask_{FORM}_sms_code")
    assert again.names == ["utter_code_still_valid", "utter_ask_sms_code"]
    assert await inbox_size(backend, person.phone) == 1

    code = await last_code(backend, person.phone)
    wrong = "000000" if code != "000000" else "111111"
    conv.user(wrong)
    result = await client.validate(conv, FORM)
    assert (result.slots["sms_code"], result.names) == (None, ["utter_invalid_code_mismatch"])
    assert result.response("utter_invalid_code_mismatch")["remaining"] == 4
    conv.set(requested_slot="sms_code")
    conv.user(code)
    result = await client.validate(conv, FORM)
    assert (result.slots["sms_code"], result.responses) == ("verified", [])


async def test_declining_the_agreement_ends_the_form_and_the_submit_says_so(client: ActionClient,
                                                                           backend: Services) -> None:
    person = new_person()
    conv = registering("agreement", name=person.name, id_type="0", id_number=person.id_number, captcha="passed")
    conv.user("不同意", "deny")
    result = await client.validate(conv, FORM, agreement="decline")
    assert result.slots["requested_slot"] is None and result.responses == []
    submitted = await client.act(conv, "action_register")
    assert submitted.names == ["utter_invalid_agreement_declined"]
    assert all(submitted.slots[slot] is None for slot in ("name", "id_number", "agreement", "captcha"))


async def test_the_first_question_is_asked_when_nobody_is_logged_in(client: ActionClient) -> None:
    conv = registering(None)
    asked = await client.act(conv, f"action_ask_{FORM}_name")
    assert asked.names == ["utter_ask_name"] and asked.events == []


async def test_captcha_question_shows_a_picture(client: ActionClient) -> None:
    conv = registering("captcha")
    asked = await client.act(conv, "action_ask_captcha")
    assert asked.names == ["utter_ask_captcha"]
    assert asked.responses[0]["image"].startswith("data:image/png;base64,")
    conv.user(CAPTCHA)
    assert (await client.validate(conv, FORM, captcha=CAPTCHA)).slots["captcha"] == "passed"


@pytest.mark.parametrize("form", [FORM, "login_form"])
async def test_typing_the_slots_marker_is_no_solved_captcha(client: ActionClient, form: str) -> None:
    """The captcha slot holds "passed" once solved; typed by a person it is just a wrong answer."""
    conv = Conversation(new_sender("forge"), active_loop=form)
    conv.set(requested_slot="captcha")
    await client.act(conv, "action_ask_captcha")
    conv.user("passed")
    forged = await client.validate(conv, form, captcha="passed")
    assert (forged.slots["captcha"], forged.names) == (None, ["utter_invalid_captcha_mismatch"])
    conv.user(CAPTCHA)
    solved = await client.validate(conv, form, captcha=CAPTCHA)
    assert solved.slots["captcha"] == "passed"
    await client.act(conv, "action_ask_captcha")  # a new picture: the earlier pass no longer counts
    conv.user("passed")
    assert (await client.validate(conv, form, captcha="passed")).slots["captcha"] is None


async def test_typing_a_codes_sealed_proof_is_no_verified_code(client: ActionClient) -> None:
    """A checked code is kept as "verified:<purpose>:<phone>"; typed at the code question, it is
    just a wrong code, and the form cannot be submitted with it."""
    person = new_person()
    conv = registering("sms_code", phone=person.phone)
    await client.act(conv, f"action_ask_{FORM}_sms_code")
    forged = f"verified:register:{person.phone}"
    conv.user(forged)
    result = await client.validate(conv, FORM)
    assert result.slots["sms_code"] is None and result.names
    assert forged not in str(result.events) + str(result.responses)
