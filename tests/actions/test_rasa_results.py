"""validate_fetch_result_form, action_fetch_result and action_my_requests over HTTP."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from rasa_payloads import ActionClient, Conversation, new_sender
from rasa_people import create_account, entity, last_code, log_in, new_person
from rasa_sim import Assistant

from actions.results import build_summary_params
from backend.clock import PRODUCT_TZ
from backend.credit_data import load_sandbox
from backend.reports import build_report_data
from backend.services import Services
from dialogs.catalog import Translator

FORM = "fetch_result_form"
REPO = Path(__file__).resolve().parents[2]


async def test_a_result_that_is_not_ready_says_when(assistant: Assistant, backend: Services) -> None:
    person = new_person()
    account_id = await create_account(backend, person)
    conv = await log_in(assistant, person)
    request = await backend.queries.submit(account_id, "hint", "rasa:other", "zh")  # due in 60 s
    assistant.said.clear()
    await assistant.start(conv, FORM, "获取结果", "fetch_result", [entity("request_id", f"#{request.id}")])
    assert assistant.said_names == ["utter_fetch_result_not_ready"]
    assert assistant.said[0]["due"].count(":") == 1


async def test_an_unknown_or_foreign_number_is_not_found_and_asked_again(assistant: Assistant,
                                                                         backend: Services) -> None:
    owner = new_person()
    request = await backend.queries.submit(await create_account(backend, owner), "hint", "rasa:x", "zh")
    conv = Conversation(new_sender("stranger"))
    await assistant.start(conv, FORM, "获取结果", "fetch_result", [entity("request_id", f"#{request.id}")])
    await assistant.say(conv, "#999999")
    assert assistant.said_names == ["utter_fetch_result_not_found", "utter_ask_request_id"] * 2


async def test_the_requesting_sender_gets_the_hint_after_the_code(client: ActionClient, assistant: Assistant,
                                                                  backend: Services) -> None:
    person = new_person()
    account_id = await create_account(backend, person)
    sender = new_sender("mine")
    ready = await backend.queries.submit(account_id, "hint", f"rasa:{sender}", "zh")
    await backend.queries.mark_notified(ready.id)
    conv = Conversation(sender)
    await assistant.start(conv, FORM, "获取结果", "fetch_result", [entity("request_id", str(ready.id))])
    await assistant.say(conv, await last_code(backend, person.phone))
    assert assistant.said_names == ["utter_code_sent", "utter_ask_code", "utter_result_hint_empty",
                                    "utter_result_document", "utter_result_more"]
    assert (await backend.queries.get(ready.id)).status == "delivered"


async def test_my_requests_lists_each_with_a_fetch_button_when_ready(client: ActionClient, assistant: Assistant,
                                                                      backend: Services) -> None:
    person = new_person()
    account_id = await create_account(backend, person)
    pending = await backend.queries.submit(account_id, "report", "rasa:x", "zh")
    ready = await backend.queries.submit(account_id, "summary", "rasa:x", "zh")
    await backend.queries.mark_notified(ready.id)
    conv = await log_in(assistant, person)
    result = await client.act(conv, "action_my_requests")
    assert result.names == ["utter_my_requests_header", "utter_my_requests_line", "utter_my_requests_line"]
    lines = {r["number"]: r for r in result.responses[1:]}
    assert lines[pending.id]["buttons"] == [] and lines[pending.id]["status_name"] == "处理中"
    assert lines[ready.id]["buttons"] == [{"title": f"获取结果 #{ready.id}",
                                           "payload": f'/fetch_result{{"request_id":"{ready.id}"}}'}]


async def test_my_requests_needs_a_log_in_and_says_when_there_are_none(client: ActionClient, assistant: Assistant,
                                                                        backend: Services) -> None:
    assert (await client.act(Conversation(new_sender("anon")), "action_my_requests")).names == \
        ["utter_login_required"]
    person = new_person()
    await create_account(backend, person)
    conv = await log_in(assistant, person)
    assert (await client.act(conv, "action_my_requests")).names == ["utter_my_requests_none"]


def test_the_summary_response_gets_yuan_totals_and_the_foreign_lines_apart() -> None:
    sandbox = load_sandbox(REPO / "data" / "fixtures" / "personas.json")
    when = datetime(2026, 12, 4, 10, 0, tzinfo=PRODUCT_TZ)

    def params(id_number: str, lang: str) -> dict[str, Any]:
        persona = sandbox.personas[f"resident_id:{id_number}"]
        data = build_report_data(persona.person, persona.file, product="summary", report_number="1",
                                 query_time=when)
        return build_summary_params(data, Translator(lang))

    p4 = params("650102199506012464", "zh")
    assert (p4["cards"], p4["card_limit"], p4["card_used"]) == (50, "1,545,000", "678,000")
    assert p4["card_foreign"] == "\n其中外币账户（金额未计入上述人民币金额）：美元 授信 30,000，已用 27,000"
    assert params("650102199506012464", "en")["card_foreign"] == (
        "\nOf these, foreign-currency accounts (not in the yuan amounts above): USD credit limit 30,000, used 27,000")
    assert params("110105199003071239", "zh")["card_foreign"] == ""
