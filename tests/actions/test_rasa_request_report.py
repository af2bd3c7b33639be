"""validate_request_report_form (slots depend on quick query), its questions and action_request_report."""

from __future__ import annotations

import pyotp
from fakes import CAPTCHA
from rasa_payloads import ActionClient, Conversation
from rasa_people import Person, create_account, inbox_size, last_code, log_in, new_person
from rasa_sim import Assistant

from backend.services import Services

FORM = "request_report_form"


async def logged_in(assistant: Assistant, backend: Services, **state: bool) -> tuple[Person, Conversation, int]:
    person = new_person()
    account_id = await create_account(backend, person, **state)
    conv = await log_in(assistant, person)
    assistant.said.clear()
    return person, conv, account_id


async def test_with_quick_query_a_dynamic_code_confirms_the_request(assistant: Assistant,
                                                                     backend: Services) -> None:
    person, conv, account_id = await logged_in(assistant, backend, verified=True, quick=True)
    await assistant.start(conv, FORM, "我要查信用报告", "request_report")
    await assistant.say(conv, "Credit information summary")
    await assistant.say(conv, await last_code(backend, person.phone))
    assert assistant.said_names == ["utter_ask_product", "utter_code_sent", "utter_ask_dynamic_code",
                                    "utter_request_submitted"]
    submitted = assistant.said[-1]
    assert submitted["product_name"] == "个人信用信息概要" and submitted["phone_masked"].count("*") == 4
    [request] = await backend.queries.list_for(account_id)
    assert (request.id, request.product, request.conversation_id) == (submitted["number"], "summary",
                                                                      f"rasa:{conv.sender_id}")


async def test_an_unknown_product_is_asked_again(client: ActionClient, assistant: Assistant,
                                                 backend: Services) -> None:
    _, conv, _ = await logged_in(assistant, backend, verified=True, quick=True)
    conv.active_loop = FORM
    conv.set(requested_slot="product")
    conv.user("房产证明")
    result = await client.validate(conv, FORM, product="房产证明")
    assert (result.slots["product"], result.names) == (None, ["utter_invalid_choice_unknown"])


async def test_without_quick_query_the_form_verifies_a_bank_card(assistant: Assistant, backend: Services) -> None:
    person, conv, account_id = await logged_in(assistant, backend)
    await assistant.start(conv, FORM, "我要查信用报告", "request_report", [
        {"entity": "product", "value": "hint"}])
    assert assistant.said_names == ["utter_ask_card"]
    for answer in (person.card, person.name, "0", person.id_number, person.phone):
        await assistant.say(conv, answer)
    await assistant.say(conv, await last_code(backend, person.phone))
    await assistant.say(conv, CAPTCHA)
    assert assistant.said_names[-1] == "utter_request_submitted"
    assert [r.product for r in await backend.queries.list_for(account_id)] == ["hint"]


async def test_a_wrong_dynamic_code_submits_nothing(assistant: Assistant, backend: Services) -> None:
    person, conv, account_id = await logged_in(assistant, backend, verified=True, quick=True)
    await assistant.start(conv, FORM, "我要查信用报告", "request_report")
    await assistant.say(conv, "report")
    code = await last_code(backend, person.phone)
    await assistant.say(conv, "000000" if code != "000000" else "111111")
    assert assistant.said_names[-3:] == ["utter_invalid_code_mismatch", "utter_code_still_valid",
                                         "utter_ask_dynamic_code"]
    assert await backend.queries.list_for(account_id) == []


async def test_with_an_authenticator_app_its_code_confirms_and_nothing_is_texted(assistant: Assistant,
                                                                                backend: Services) -> None:
    person, conv, account_id = await logged_in(assistant, backend, verified=True, quick=True)
    enrolment = await backend.authenticator.begin(account_id, person.login_name)
    app = pyotp.TOTP(enrolment.secret)
    await backend.authenticator.confirm(account_id, app.now())  # bound in another channel's flow
    texted = await inbox_size(backend, person.phone)
    await assistant.start(conv, FORM, "我要查信用报告", "request_report")
    await assistant.say(conv, "report")
    assert assistant.said_names[-1] == "utter_ask_dynamic_code_app"
    await assistant.say(conv, "000000" if app.now() != "000000" else "111111")
    assert assistant.said_names[-2:] == ["utter_invalid_authenticator_mismatch", "utter_ask_dynamic_code_app"]
    assert assistant.said[-2]["remaining"] == 4
    await assistant.say(conv, app.now())
    assert assistant.said_names[-1] == "utter_request_submitted"
    assert [r.product for r in await backend.queries.list_for(account_id)] == ["report"]
    assert await inbox_size(backend, person.phone) == texted
