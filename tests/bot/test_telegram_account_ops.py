"""Issue 3 account operations over Telegram: a real `creditbot serve` process talks to the fake Bot API.

Certificate verification (a .p12 sent as a Telegram document, then its password; identity questions
on first use only) and changing the registered phone (identity checked through the verify_identity
sub-flow, the code texted to the NEW number). The driver comes from test_telegram_e2e.py.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fakebotapi import FakeBotApi
from fakes import CAPTCHA, P1
from procs import ServerProcess
from test_telegram_e2e import (
    TgUser,
    assert_plain_text,
    log_in,
    register,
    start_server,
    stop_server,
    texts_of,
)

from backend.identity_rules import mask_phone
from backend.sandbox_ca import issue_certificate

pytestmark = pytest.mark.slow

CERT_PASSWORD = "Cert-2026!"
NEW_PHONE = "13900000202"


@pytest.fixture
async def server(tmp_path: Path, fake: FakeBotApi) -> AsyncIterator[ServerProcess]:
    proc = await start_server(tmp_path, fake)
    await fake.wait_calls("deleteWebhook", 1, timeout=30)
    try:
        yield proc
    finally:
        await stop_server(proc)


async def send_certificate(user: TgUser, p12: bytes, expect: str = "证书密码") -> None:
    """Sends the .p12 as a document; the bot must read it, then delete the message (it holds a private key)."""
    mark = len(user.calls())
    update_id = user.fake.user_document(user.chat_id, "王小明.p12", p12, "application/x-pkcs12",
                                        first_name=user.first_name)
    message_id = user.fake.user_message_id(update_id)
    assert message_id is not None
    calls = await user.settle(mark, expect=expect)
    assert any(c.method == "getFile" and c.ok for c in user.fake.calls), "the bot must download the document"
    deletes = [c for c in calls if c.method == "deleteMessage" and c.params.get("message_id") == message_id]
    assert deletes and deletes[0].ok, f"the certificate message {message_id} was not deleted: {calls}"
    assert user.fake.is_deleted(user.chat_id, message_id)


async def inbox(server: ServerProcess, phone: str) -> list[dict[str, str]]:
    async with httpx.AsyncClient(timeout=10) as client:
        response = await client.get(f"{server.url}/sandbox/phones/{phone}/messages")
        assert response.status_code == 200, response.text
        return response.json()  # type: ignore[no-any-return]


# --------------------------------------------------------------------------- certificate


async def test_certificate_verification_over_telegram(server: ServerProcess, fake: FakeBotApi) -> None:
    user = TgUser(fake, server, chat_id=5_560_001)
    await register(user)
    await log_in(user)
    p12 = issue_certificate(name=P1["name"], id_number=P1["id_number"], password=CERT_PASSWORD)

    # Through the buttons: (the guide after a first log-in offers only the bank card) 主菜单 → 我的账户 →
    # 身份验证 → 数字证书验证.
    await user.tap("主菜单", expect="请选择您要办理的业务")
    await user.tap("我的账户", expect="安全等级：低")
    await user.tap("身份验证", expect="身份验证方式")
    await user.tap("数字证书验证", expect="以文件形式发送")
    await send_certificate(user, p12)
    await user.say_secret(CERT_PASSWORD, expect="首次使用该证书")
    await user.say(P1["name"], expect="证件类型")
    await user.tap("居民身份证", expect="证件号码")
    done = texts_of(await user.say(P1["id_number"], expect="数字证书验证通过"))
    assert "当前安全等级：高" in done, done
    assert P1["id_number"] not in done, "the subject is shown masked"
    await user.tap("我的账户", expect="安全等级：高")

    # The same certificate again: no identity questions, straight to the result.
    await user.say("/certificate", expect="以文件形式发送")
    await send_certificate(user, p12)
    again = texts_of(await user.say_secret(CERT_PASSWORD, expect="数字证书验证通过"))
    assert "首次使用" not in again and "姓名" not in again, again
    assert "当前安全等级：高" in again, again

    # A file that is not a certificate is refused, deleted all the same, and the file asked for again.
    await user.say("取消", expect="已取消")
    await user.say("/certificate", expect="以文件形式发送")
    await send_certificate(user, b"%PDF-1.4 not a certificate", expect="无法识别该文件")

    for cq_id in user.taps:
        assert fake.callback_queries[cq_id]["answered"], cq_id
    assert_plain_text(fake)
    assert CERT_PASSWORD not in server.output() and "Abc12345!" not in server.output()


# --------------------------------------------------------------------------- change phone


async def test_change_phone_over_telegram(server: ServerProcess, fake: FakeBotApi) -> None:
    user = TgUser(fake, server, chat_id=5_560_002)
    await register(user)
    await log_in(user)

    await user.tap("主菜单", expect="请选择您要办理的业务")
    await user.tap("我的账户", expect="您可以")
    intro = texts_of(await user.tap("更换手机号码", expect="身份验证方式"))
    assert mask_phone(P1["phone"]) in intro and P1["phone"] not in intro, intro
    await user.tap("银行卡验证", expect="银行卡号")
    await user.say_secret(P1["card"], expect="持卡人姓名")
    await user.say(P1["name"], expect="证件类型")
    await user.tap("居民身份证", expect="证件号码")
    await user.say(P1["id_number"], expect="预留的手机号码")
    await user.say(P1["phone"], expect="验证码")
    await user.say_secret(await user.code(), expect="上图")
    await user.say(CAPTCHA, expect="请输入新的手机号码")

    await user.say(P1["phone"], expect="请输入新的手机号码")  # the same number is refused
    old_inbox = len(await inbox(server, P1["phone"]))
    await user.say(NEW_PHONE, expect="新手机号码收到的6位验证码")
    new_inbox = await inbox(server, NEW_PHONE)
    assert len(new_inbox) == 1 and "更换注册手机号码" in new_inbox[0]["text"], new_inbox
    assert len(await inbox(server, P1["phone"])) == old_inbox, "the code goes to the new number only"
    done = texts_of(await user.say_secret(await user.code(NEW_PHONE), expect="注册手机号码已更换为"))
    assert mask_phone(NEW_PHONE) in done and NEW_PHONE not in done, done
    notice = (await inbox(server, P1["phone"]))[-1]["text"]
    assert mask_phone(NEW_PHONE) in notice, "the old number is told of the change"
    await user.tap("我的账户", expect=mask_phone(NEW_PHONE))

    # Logging out and in again still works after the change.
    await user.tap("退出登录", expect="安全退出")
    await log_in(user)
    await user.tap("我的账户", expect=mask_phone(NEW_PHONE))

    for cq_id in user.taps:
        assert fake.callback_queries[cq_id]["answered"], cq_id
    assert_plain_text(fake)
