"""Request transcripts: product, then a dynamic code (quick query) or identity verification as a sub-flow."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest
from fakes import CAPTCHA, P1, Chat, make_settings, register, texts_of, verify_card
from flowkit import (
    all_texts,
    answer_login,
    asked,
    buttons_of,
    deletes_of,
    last_ref,
    last_text,
    log_in,
    requests_count,
    sms_count,
    state_json,
    state_of,
    verify_card_until,
    wrong_code,
)

from backend.clock import FixedClock
from backend.sandbox_ca import issue_certificate
from backend.settings import Settings
from bot.wiring import App
from dialogs.catalog import Translator
from dialogs.types import Attachment, Reply, Turn

T = Translator("zh")
PRODUCT = T("request_report.product.prompt")
CODE = T("request_report.dynamic_code.prompt")
CERT_PASSWORD = "Zhengshu2026!"
LATE_EVENING = datetime(2026, 12, 3, 15, 30, tzinfo=timezone.utc)  # 2026-12-03 23:30 CST


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path, CREDITBOT_REPORT_DELAY=86400)


@pytest.fixture
async def low(app: App, chat: Chat) -> Chat:
    """P1 registered and logged in, level low (no quick query)."""
    await register(chat)
    await log_in(chat)
    return chat


@pytest.fixture
async def quick(low: Chat) -> Chat:
    """P1 at level high with quick query open."""
    await low.tap("/bank_card")
    await verify_card(low)
    await low.tap("/decision:open")
    return low


async def at_code(chat: Chat, product: str = "report") -> list:  # type: ignore[type-arg]
    await chat.tap("/request_report")
    return await chat.tap(f"/product:{product}")


async def at_card(chat: Chat, product: str = "report") -> list:  # type: ignore[type-arg]
    """Without quick query: past the product and the choice of method, at the card question."""
    await at_code(chat, product)
    return await chat.tap("/method:bank_card")


async def send_file(chat: Chat, data: bytes, name: str = "me.p12") -> list[Reply]:
    """Uploads a file as the REST channel would (as in test_certificate)."""
    chat._ref += 1
    turn = Turn(channel="rest", conversation_id=chat.conversation_id, kind="file",
                attachment=Attachment(name, "application/x-pkcs12", data),
                message_ref=f"{chat.conversation_id}:{chat._ref}")
    replies = await chat.app.engine.handle(turn)
    chat.history.extend(replies)
    return replies


async def only_request(app: App):  # type: ignore[no-untyped-def]
    account = await app.services.accounts.find_by_login("wangxm01")
    assert account is not None
    [request] = await app.services.queries.list_for(account.id)
    return request


# -- with quick query: dynamic code ---------------------------------------------------------------

async def test_quick_query_happy_path(app: App, quick: Chat) -> None:
    replies = await quick.tap("/request_report")
    assert T("request_report.intro_quick") in texts_of(replies)
    assert last_text(replies) == PRODUCT
    assert buttons_of(replies) == ["/product:hint", "/product:summary", "/product:report"]
    replies = await quick.tap("/product:summary")
    assert "验证码已发送至手机 155****0101" in texts_of(replies) and last_text(replies) == CODE
    replies = await quick.say(await quick.last_code(P1["phone"]))
    assert "查询申请已提交" in texts_of(replies) and T("product.summary") in texts_of(replies)
    assert "155****0101" in texts_of(replies) and "15500000101" not in all_texts(quick)
    request = await only_request(app)
    assert (request.product, request.status, request.conversation_id) == ("summary", "pending", "rest:tester")
    assert f"申请编号 {request.id}" in texts_of(replies)
    assert await asked(app, quick) == (None, None)


async def test_b43_due_time_is_shown_in_beijing_time_and_stored_as_an_aware_instant(
        app: App, chat: Chat, clock: FixedClock) -> None:
    clock.set(LATE_EVENING)
    await register(chat)
    await log_in(chat)
    await chat.tap("/bank_card")
    await verify_card(chat)
    await chat.tap("/decision:open")
    await at_code(chat)
    replies = await chat.say(await chat.last_code(P1["phone"]))
    assert "预计 2026-12-04 23:30（北京时间） 生成结果" in texts_of(replies)
    request = await only_request(app)
    assert request.due_at == datetime(2026, 12, 4, 15, 30, tzinfo=timezone.utc)
    assert request.due_at.utcoffset() is not None


async def test_invalid_product_is_refused_and_asked_again(app: App, quick: Chat) -> None:
    await quick.tap("/request_report")
    replies = await quick.say("信用卡账单")
    assert T("error.choice.unknown") in texts_of(replies)
    assert last_text(replies) == PRODUCT


@pytest.mark.parametrize(("answer", "reason_key"), [("12ab56", "error.code.format"), ("1234567", "error.code.format")])
async def test_dynamic_code_of_the_wrong_shape(app: App, quick: Chat, answer: str, reason_key: str) -> None:
    await at_code(quick)
    replies = await quick.say(answer)
    assert T(reason_key) in texts_of(replies) and last_text(replies) == CODE


async def test_b36_five_wrong_codes_void_it_and_a_new_one_is_needed(
        app: App, quick: Chat, clock: FixedClock) -> None:
    await at_code(quick)
    code, sent = await quick.last_code(P1["phone"]), await sms_count(app, P1["phone"])
    for remaining in (4, 3, 2, 1):
        replies = await quick.say(wrong_code(code))
        assert T("error.code.mismatch", remaining=remaining) in texts_of(replies)
    assert T("error.code.exhausted") in texts_of(await quick.say(wrong_code(code)))
    replies = await quick.say(code)
    assert T("error.code.exhausted") in texts_of(replies) and last_text(replies) == CODE
    assert await requests_count(app) == 0
    replies = await quick.say("/resend")
    assert "获取新的验证码" in texts_of(replies) and "仍然有效" not in texts_of(replies)
    assert await sms_count(app, P1["phone"]) == sent
    clock.advance(61)
    replies = await quick.say("/resend")
    assert "验证码已发送" in texts_of(replies) and await sms_count(app, P1["phone"]) == sent + 1
    assert "查询申请已提交" in texts_of(await quick.say(await quick.last_code(P1["phone"])))


async def test_code_expires_after_five_minutes(app: App, quick: Chat, clock: FixedClock) -> None:
    await at_code(quick)
    code = await quick.last_code(P1["phone"])
    clock.advance(301)
    replies = await quick.say(code)
    assert T("error.code.expired") in texts_of(replies) and last_text(replies) == CODE
    await quick.say("/resend")
    assert "查询申请已提交" in texts_of(await quick.say(await quick.last_code(P1["phone"])))


async def test_code_message_is_deleted(app: App, quick: Chat) -> None:
    await at_code(quick)
    replies = await quick.say(await quick.last_code(P1["phone"]))
    assert deletes_of(replies) == [last_ref(quick)]


async def test_cancel_at_the_code_submits_nothing(app: App, quick: Chat) -> None:
    await at_code(quick)
    code = await quick.last_code(P1["phone"])
    assert T("cancelled") in texts_of(await quick.say("取消"))
    await quick.say(code)
    assert await requests_count(app) == 0
    state = await state_of(app, quick)
    assert (state["flow"], state["slots"], state["stack"]) == (None, {}, [])


async def test_back_from_the_code_to_the_product(app: App, quick: Chat) -> None:
    await at_code(quick)
    assert last_text(await quick.say("返回")) == PRODUCT
    replies = await quick.tap("/product:hint")
    assert last_text(replies) == CODE  # the code sent a moment ago still works
    await quick.say(await quick.last_code(P1["phone"]))
    assert (await only_request(app)).product == "hint"


async def test_help_then_the_same_question(app: App, quick: Chat) -> None:
    await quick.tap("/request_report")
    replies = await quick.say("帮助")
    assert T("help.request_report") in texts_of(replies) and last_text(replies) == PRODUCT


async def test_sticker_at_the_code_sends_no_new_code(app: App, quick: Chat) -> None:
    await at_code(quick)
    sent = await sms_count(app, P1["phone"])
    replies = await quick.send("sticker")
    assert T("error.not_text") in texts_of(replies) and last_text(replies) == CODE
    assert await sms_count(app, P1["phone"]) == sent


async def test_needs_log_in_first_then_asks_for_the_product(app: App, chat: Chat) -> None:
    await register(chat)
    replies = await chat.say("我要查信用报告")
    assert T("login.required") in texts_of(replies)
    assert last_text(await answer_login(chat)) == PRODUCT


# -- without quick query: identity verification (bank card or certificate) as a sub-flow ------------

async def test_without_quick_query_both_methods_are_offered(app: App, low: Chat) -> None:
    replies = await low.tap("/request_report")
    assert T("request_report.intro_card") in texts_of(replies)
    replies = await low.tap("/product:hint")
    assert T("verify_identity.intro") in texts_of(replies)
    assert last_text(replies) == T("verify_identity.method.prompt")
    assert buttons_of(replies) == ["/method:bank_card", "/method:certificate"]
    state = await state_of(app, low)
    assert state["flow"] == "verify_identity" and [f["flow"] for f in state["stack"]] == ["request_report"]


async def test_without_quick_query_the_bank_card_sub_flow_runs_then_the_request_is_submitted(
        app: App, low: Chat) -> None:
    await at_code(low, "hint")
    replies = await low.tap("/method:bank_card")
    assert T("bank_card.intro") in texts_of(replies)
    assert last_text(replies) == T("bank_card.card.prompt")
    state = await state_of(app, low)
    assert state["flow"] == "bank_card"
    assert [f["flow"] for f in state["stack"]] == ["request_report", "verify_identity"]
    await verify_card_until(low, "captcha")
    replies = await low.say(CAPTCHA)
    assert "银行卡验证通过" in texts_of(replies) and "查询申请已提交" in texts_of(replies)
    assert T("quick_query.prompt") not in texts_of(replies)
    assert (await only_request(app)).product == "hint"
    assert await asked(app, low) == (None, None)


async def test_without_quick_query_a_certificate_verifies_then_the_request_is_submitted(
        app: App, low: Chat, clock: FixedClock) -> None:
    await at_code(low, "summary")
    replies = await low.tap("/method:certificate")
    assert T("certificate.intro") in texts_of(replies)
    assert last_text(replies) == T("certificate.certificate.prompt")
    p12 = issue_certificate(name=P1["name"], id_number=P1["id_number"], password=CERT_PASSWORD, now=clock.now())
    assert last_text(await send_file(low, p12)) == T("certificate.password.prompt")
    assert last_text(await low.say(CERT_PASSWORD)) == T("certificate.name.prompt")
    await low.say(P1["name"])
    await low.tap("/id_type:0")
    replies = await low.say(P1["id_number"])
    assert "数字证书验证通过" in texts_of(replies) and "查询申请已提交" in texts_of(replies)
    assert T("quick_query.prompt") not in texts_of(replies)
    assert (await only_request(app)).product == "summary"
    assert await asked(app, low) == (None, None)
    assert CERT_PASSWORD not in await state_json(app, low)


async def test_high_level_without_quick_query_verifies_the_card_again(app: App, low: Chat) -> None:
    await low.tap("/bank_card")
    await verify_card(low)
    await low.tap("/decision:decline")
    await at_card(low)  # within a minute: the first code was used, so a new one is sent at once
    await verify_card_until(low, "captcha")
    assert "查询申请已提交" in texts_of(await low.say(CAPTCHA))


async def test_the_card_is_never_stored_in_clear_during_the_sub_flow(app: App, low: Chat) -> None:
    await at_card(low)
    replies = await low.say(P1["card"])
    assert deletes_of(replies) == [last_ref(low)]
    assert P1["card"] not in await state_json(app, low)


async def test_help_inside_the_sub_flow_explains_the_bank_card(app: App, low: Chat) -> None:
    await at_card(low)
    replies = await low.say("/help")
    assert T("help.bank_card") in texts_of(replies) and last_text(replies) == T("bank_card.card.prompt")


async def test_cancel_inside_the_sub_flow_drops_both_flows(app: App, low: Chat) -> None:
    await at_card(low)
    await verify_card_until(low, "phone")
    assert T("cancelled") in texts_of(await low.say("/cancel"))
    state = await state_of(app, low)
    assert (state["flow"], state["slots"], state["stack"]) == (None, {}, [])
    assert await requests_count(app) == 0


async def test_failed_verification_submits_nothing(app: App, low: Chat, clock: FixedClock) -> None:
    await at_card(low)
    for _ in range(3):
        clock.advance(61)
        await verify_card_until(low, "captcha", person={**P1, "phone": "19900000505"})
        replies = await low.say(CAPTCHA)
    assert T("bank_card.too_many") in texts_of(replies)
    assert await requests_count(app) == 0
    assert await asked(app, low) == (None, None)
