"""The agent console at /agent in a real browser, against a running `creditbot serve`.

A person (web widget, REST or Telegram through the fake Bot API) asks for an agent; agents sign in
in their own browser contexts, see the queue, claim, talk, leave notes and hand back; the bot then
asks its open question again. Also: two agents racing for one claim, masked personal data (in the
page and in the console's raw JSON), markup shown as text (B46), a wrong password, an expired session.

One server for the module, pointed at a fake Telegram Bot API served from a thread.
"""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from agent_helpers import (
    CSRF,
    Console,
    RestPerson,
    ThreadedFakeBotApi,
    add_agent,
    set_agent_disabled,
    wait_until,
    widget_send,
)
from chat_widget import PHONE, Widget, texts
from fakes import P1
from procs import ServerProcess

PASSWORD = "correct horse battery staple"
ALICE, BOB = ("alice", "Alice 王"), ("bob", "Bob 李")
LAPTOP = {"width": 1280, "height": 800}
STATIC = Path(__file__).resolve().parents[2] / "bot" / "static" / "agent"
MARKUP = ["<script>alert(1)</script> **粗体**", "[点我](javascript:alert(1))", "<img src=x onerror=alert(1)>"]


@pytest.fixture(scope="module")
def telegram() -> Iterator[ThreadedFakeBotApi]:
    fake = ThreadedFakeBotApi().start()
    yield fake
    fake.stop()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, telegram: ThreadedFakeBotApi) -> Iterator[ServerProcess]:
    """Overrides conftest's: the same sandbox server, plus Telegram (polling the fake) and two agents."""
    proc = ServerProcess(tmp_path_factory.mktemp("console") / "var", TELEGRAM_BOT_TOKEN=telegram.fake.token,
                         TELEGRAM_BASE_URL=telegram.fake.root_url)
    loop = asyncio.new_event_loop()  # private: the browser tests are sync
    try:
        loop.run_until_complete(proc.start(timeout=60))
    finally:
        loop.close()
    try:
        wait_until(telegram.polling, "the bot to poll the fake Bot API", timeout=30)
        for username, name in (ALICE, BOB):
            add_agent(proc, username, name, PASSWORD)
        yield proc
    finally:
        proc.stop()


def record_dialogs(page: Any) -> list[str]:
    """Every alert() that runs; B46 says none may."""
    seen: list[str] = []
    page.on("dialog", lambda dialog: (seen.append(dialog.message), dialog.dismiss()))
    return seen


def agent_console(new_page: Any, server: ServerProcess, who: tuple[str, str], **options: Any) -> Console:
    page = new_page(**{"viewport": LAPTOP, **options})
    return Console(page, server).open().sign_in(who[0], PASSWORD)


# --------------------------------------------------------------------------- the whole handoff


def test_widget_handoff_claim_talk_note_and_hand_back_to_the_open_question(
        server: ServerProcess, new_page: Any, screenshot: Any) -> None:
    person_page = new_page(viewport=LAPTOP)
    person_alerts = record_dialogs(person_page)
    w = Widget(person_page, server).open()
    assert "姓名" in texts(w.say("注册"))  # a flow with an open question

    console = agent_console(new_page, server, ALICE)
    agent_alerts = record_dialogs(console.page)
    before = console.waiting_ids()
    assert "排在第" in texts(w.say("人工"))
    handoff = console.new_handoff(before)

    # The queue updates live (no reload), with position, channel, flow/step and a ticking wait.
    item = console.item(handoff)
    item.wait_for()
    assert item.get_attribute("data-status") == "waiting"
    assert "排第" in item.inner_text() and "网页聊天" in item.inner_text() and "注册 · 姓名" in item.inner_text()
    wait = console.page.locator(f'[data-wait-for="{handoff}"]')
    first = wait.inner_text()
    console.page.wait_for_function("([sel, was]) => document.querySelector(sel).textContent !== was",
                                   arg=[f'[data-wait-for="{handoff}"]', first])
    screenshot(console.page, "console-queue-waiting")

    console.select(handoff)
    assert console.page.locator("#cc-claim").is_visible()
    assert console.page.locator("#cc-work").is_hidden()  # no reply box before the claim
    assert any(line["text"] == "注册" for line in console.lines())  # transcript preview
    console.claim()
    w.wait_text("Alice 王 已接入")

    widget_send(w, "我想问一下报告多久能出来")
    console.wait_line("我想问一下报告多久能出来", "user")  # live, over the console's WebSocket
    console.reply("您好，请稍等，我帮您查一下")
    w.wait_text("我帮您查一下")
    canned = console.canned("canned.report_time")
    w.wait_text(canned[:12])
    console.note("内部：用户关心出报告时间")
    line = console.page.locator('#cc-transcript .cc-line[data-author="note"]').last
    assert "用户看不到" in line.inner_text()
    screenshot(console.page, "console-conversation-active")
    screenshot(person_page, "widget-with-agent")

    console.finish("handback")
    assert console.page.locator("#cc-detail").get_attribute("data-ended-by") == "agent"
    assert console.page.locator("#cc-detail-status").inner_text() == "已交还机器人"
    w.wait_text("我们接着刚才的步骤继续")
    w.wait_text("请输入您的姓名")  # the open question, asked again
    shown = texts(w.entries())
    assert "内部：用户关心出报告时间" not in shown  # notes never reach the person
    assert person_page.locator('.cb-choice[data-payload^="/id_type"]').count() == 0
    w.say(P1["name"])  # the flow goes on from where it stood
    assert person_page.locator('.cb-choice[data-payload^="/id_type"]').count() > 0
    console.item(handoff).wait_for(state="detached")  # gone from the queue
    assert person_alerts == [] and agent_alerts == []


# --------------------------------------------------------------------------- two agents, one claim


def _cookie(console: Console) -> str:
    return next(c["value"] for c in console.page.context.cookies() if c["name"] == "creditbot_agent")


def test_two_agents_race_for_one_conversation_and_one_wins(server: ServerProcess, new_page: Any) -> None:
    alice = agent_console(new_page, server, ALICE)
    before = alice.waiting_ids()
    person = RestPerson(server, "race-1")
    person.say("人工")
    handoff = alice.new_handoff(before)

    bob_page = new_page(viewport=LAPTOP)
    # Bob's live updates are held back, so his Claim button is still there when Alice has won.
    bob_page.route_web_socket("**/agent/ws", lambda ws: None)
    bob = Console(bob_page, server).open().sign_in(BOB[0], PASSWORD)
    bob.select(handoff)
    alice.select(handoff)

    alice.claim()
    bob.page.click("#cc-claim")
    error = bob.page.locator("#cc-detail-error")
    error.wait_for()
    assert "另一位客服已抢先接入" in error.inner_text()
    assert bob.page.locator("#cc-work").is_hidden()
    # Nor can Bob reach it through the API: claiming is 409, reading or replying 403.
    assert bob.api("POST", f"/handoffs/{handoff}/claim").status == 409
    assert bob.api("GET", f"/handoffs/{handoff}").status == 403
    assert bob.api("POST", f"/handoffs/{handoff}/reply", {"text": "我来"}).status == 403
    person.wait_text("Alice 王 已接入")
    assert not any("我来" in t for t in person.collect())
    alice.finish("close")
    person.wait_text("客服已结束本次对话")

    # The same race without a browser in between: two claims at the same instant, one winner.
    before = alice.waiting_ids()
    RestPerson(server, "race-2").say("人工")
    second = alice.new_handoff(before)
    cookies = [_cookie(alice), _cookie(bob)]
    start = threading.Barrier(2)

    def claim(token: str) -> int:
        with httpx.Client(base_url=server.url, cookies={"creditbot_agent": token}, headers=CSRF) as client:
            start.wait(5)
            return client.post(f"/agent/api/handoffs/{second}/claim").status_code

    with ThreadPoolExecutor(2) as pool:
        statuses = sorted(pool.map(claim, cookies))
    assert statuses == [200, 409]
    winner = alice if alice.api("GET", f"/handoffs/{second}").status == 200 else bob
    assert winner.api("POST", f"/handoffs/{second}/close").status == 200


# --------------------------------------------------------------------------- Telegram to the console


def test_telegram_conversation_handed_to_the_console(
        server: ServerProcess, telegram: ThreadedFakeBotApi, new_page: Any, screenshot: Any) -> None:
    chat = 770_001
    console = agent_console(new_page, server, ALICE)
    before = console.waiting_ids()
    telegram.say(chat, "转人工")
    telegram.wait_text(chat, "排在第")
    handoff = console.new_handoff(before)
    item = console.item(handoff)
    item.wait_for()
    assert "Telegram" in item.inner_text()
    console.select(handoff)
    console.claim()
    telegram.wait_text(chat, "Alice 王 已接入")

    telegram.say(chat, "你好，我在 Telegram 上")
    console.wait_line("我在 Telegram 上", "user")
    mark = len(telegram.texts(chat))
    console.reply("您好，Telegram 的朋友 <b>粗体</b> & <svg onload=alert(2)>")
    sent = telegram.wait_text(chat, "Telegram 的朋友", after=mark)
    assert "<svg onload=alert(2)>" in sent or "&lt;svg onload=alert(2)&gt;" in sent  # as text, never markup
    screenshot(console.page, "console-telegram-conversation")
    console.finish("handback")
    telegram.wait_text(chat, "我们接着刚才的步骤继续", after=mark)


# --------------------------------------------------------------------------- masks and markup (B46)


def test_masked_personal_data_and_markup_stay_text_in_the_page_and_the_api(
        server: ServerProcess, new_page: Any, screenshot: Any) -> None:
    console = agent_console(new_page, server, BOB)
    alerts = record_dialogs(console.page)
    before = console.waiting_ids()
    person = RestPerson(server, "masked-1")
    person.say("人工")
    handoff = console.new_handoff(before)
    console.item(handoff).wait_for()
    console.select(handoff)
    console.claim()

    person.say(f"我的身份证号是 {P1['id_number']}，手机 {P1['phone']}")
    for text in MARKUP:
        person.say(text)
    console.wait_line(MARKUP[-1], "user")
    console.wait_line("我的身份证号是", "user")
    shown = [line["text"] for line in console.lines() if line["author"] == "user"]
    for text in MARKUP:
        assert text in shown  # literally, as typed
    assert console.page.locator("#cc-transcript img, #cc-transcript script, #cc-transcript a").count() == 0
    page_text = console.page.content()
    raw = console.api("GET", f"/handoffs/{handoff}").text()
    for secret in (P1["id_number"], P1["phone"], P1["id_number"][6:14], P1["phone"][3:7]):
        assert secret not in page_text, f"{secret} shown in the console"
        assert secret not in raw, f"{secret} in the console's own API"
    masked = next(t for t in shown if "身份证号" in t)
    assert P1["id_number"][-4:] in masked and P1["phone"][-4:] in masked  # masks, not deletions

    console.reply("<svg onload=alert(2)>")
    assert person.wait_text("<svg onload=alert(2)>") == "<svg onload=alert(2)>"
    screenshot(console.page, "console-masked-and-markup")
    console.page.wait_for_timeout(300)  # any onerror/onload would have fired by now
    assert alerts == []
    console.finish("close")
    person.wait_text("客服已结束本次对话")


def test_the_console_script_never_parses_data_as_html() -> None:
    """B46 at the source: text goes in with textContent; no HTML sink is used at all."""
    code = re.sub(r"/\*.*?\*/|//[^\n]*", "", (STATIC / "agent.js").read_text(encoding="utf-8"), flags=re.S)
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"):
        assert sink not in code, sink


# --------------------------------------------------------------------------- signing in and out


def test_wrong_password_is_refused_and_an_expired_session_returns_to_sign_in(
        server: ServerProcess, new_page: Any, screenshot: Any) -> None:
    page = new_page(viewport=PHONE)
    console = Console(page, server).open()
    page.fill("#cc-username", ALICE[0])
    page.fill("#cc-password", "not the password!!")
    page.click("#cc-signin-submit")
    page.locator("#cc-signin-error").wait_for()
    assert "用户名或密码不正确" in page.locator("#cc-signin-error").inner_text()
    assert page.locator("#cc").get_attribute("data-view") == "signin"
    assert page.locator("#cc-password").input_value() == ""
    assert console.api("GET", "/queue").status == 401
    assert not page.context.cookies()
    screenshot(page, "console-signin-wrong-password-phone")

    console.sign_in(ALICE[0], PASSWORD)
    before = console.waiting_ids()
    person = RestPerson(server, "phone-1", locale="en-US")
    person.say("/agent")
    handoff = console.new_handoff(before)
    console.item(handoff).focus()  # keyboard only
    page.keyboard.press("Enter")
    page.wait_for_selector(f'#cc-detail[data-handoff-id="{handoff}"][data-status=waiting]', state="attached")
    assert page.evaluate("document.activeElement.id") == "cc-detail-heading"
    screenshot(page, "console-queue-phone")
    page.click("#cc-lang")  # English, and back
    page.wait_for_function("document.querySelector('.cc-title').textContent === 'Agent console'")
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.locator("#cc-connection").inner_text() == "Live"
    assert "in line" in console.item(handoff).inner_text()
    screenshot(page, "console-queue-phone-en")
    page.click("#cc-lang")
    page.wait_for_function("document.querySelector('.cc-title').textContent === '客服工作台'")
    assert "英文" in page.locator("#cc-context").inner_text()  # the person's language, in the agent's

    console.claim()  # canned replies come in the conversation's language, whatever the console's
    canned = page.locator("#cc-canned option:not([value=''])").all_inner_texts()
    assert canned and all(re.fullmatch(r"[\x20-\x7e\u2018-\u201d]+", text) for text in canned), canned
    person.wait_text("Alice 王 from customer service has joined")

    # The session ends on the server (as when it expires) while the browser still holds the cookie.
    stale = page.context.cookies()
    assert console.api("POST", "/logout").status == 200
    page.context.add_cookies(stale)
    assert console.api("GET", "/me").status == 401
    page.evaluate("CreditbotConsole.drop()")  # the next thing the console does finds out
    page.wait_for_selector("#cc[data-view=signin]", state="attached")
    assert "登录已失效" in page.locator("#cc-signin-notice").inner_text()
    assert page.locator("#cc-queue-list .cc-queue-item").count() == 0
    screenshot(page, "console-session-expired-phone")


# --------------------------------------------------------------------------- a long transcript


def test_the_transcript_opens_at_the_newest_line_with_buttons_as_their_labels_and_steps_by_name(
        server: ServerProcess, new_page: Any, screenshot: Any) -> None:
    person_page = new_page(viewport=LAPTOP)
    w = Widget(person_page, server).open()
    for word in ["帮助", "/menu", "帮助", "/menu", "帮助", "/menu"]:
        w.say(word)
    w.say("注册")
    w.say(P1["name"])
    w.tap("/id_type:0")  # a button: the agent reads its label, not "/id_type:0"
    console = agent_console(new_page, server, ALICE)
    before = console.waiting_ids()
    w.say("人工")
    handoff = console.new_handoff(before)

    closed = console.api("POST", f"/handoffs/{handoff}/close")  # nobody has claimed it yet
    assert closed.status == 409 and closed.json()["code"] == "not_claimed"

    console.select(handoff)
    console.wait_line("人工", "user")
    texts_shown = [line["text"] for line in console.lines()]
    assert "居民身份证" in texts_shown and "/id_type:0" not in texts_shown
    assert "1 · " not in " ".join(texts_shown)
    context = console.page.locator("#cc-context").inner_text()
    assert "证件号码" in context and "id_number" not in context  # the step by its name
    at_bottom = """() => { const l = document.getElementById('cc-transcript');
        return l.scrollHeight > l.clientHeight + 40 && l.scrollHeight - l.scrollTop - l.clientHeight < 40; }"""
    console.page.wait_for_function(at_bottom)  # opens at the newest line
    screenshot(console.page, "console-long-transcript")

    console.claim()
    widget_send(w, "第一句新消息")
    console.wait_line("第一句新消息", "user")
    console.page.wait_for_function(at_bottom)  # stays at the bottom as lines arrive
    console.page.evaluate("document.getElementById('cc-transcript').scrollTop = 0")  # the agent reads back
    widget_send(w, "第二句新消息")
    console.wait_line("第二句新消息", "user")
    assert console.page.evaluate("document.getElementById('cc-transcript').scrollTop") == 0  # not pulled down

    console.page.click("#cc-close")  # and a close that fails says why (here it goes through)
    console.page.wait_for_selector("#cc-confirm[open]")
    console.page.click("#cc-confirm-yes")
    console.page.wait_for_selector("#cc-detail[data-status=closed]", state="attached")


# --------------------------------------------------------------------------- download, who ended it


def test_the_transcript_downloads_as_text_and_the_status_says_who_ended_the_conversation(
        server: ServerProcess, new_page: Any, screenshot: Any) -> None:
    console = agent_console(new_page, server, ALICE)
    page = console.page
    before = console.waiting_ids()
    person = RestPerson(server, "rest-leaves-1")
    person.say("人工")
    handoff = console.new_handoff(before)
    console.select(handoff)
    console.claim()
    console.reply("您好，我是客服，请问有什么可以帮您")

    # The README's plain-text transcript download, as a labelled link in the conversation view.
    link = page.get_by_role("link", name="下载对话记录（纯文本）")
    assert link.is_visible()
    with page.expect_download() as info:
        link.click()
    download = info.value
    assert download.suggested_filename == f"handoff-{handoff}.txt"
    text = Path(download.path()).read_text(encoding="utf-8")
    assert "您好，我是客服，请问有什么可以帮您" in text and "人工" in text
    assert "<" not in text.split("\n", 1)[0]  # plain text, not a page
    page.click("#cc-lang")
    page.get_by_role("link", name="Download transcript (plain text)").wait_for()
    page.click("#cc-lang")

    # The person leaves on their own: not "handed back to the bot".
    person.say("返回机器人")
    page.wait_for_selector("#cc-detail[data-status=returned][data-ended-by=person]", state="attached")
    assert page.locator("#cc-detail-status").inner_text() == "用户已返回自助服务"
    assert link.is_visible()  # an ended conversation can still be downloaded
    screenshot(page, "console-person-left")
    page.click("#cc-lang")
    page.wait_for_function("document.querySelector('#cc-detail-status').textContent"
                           " === 'The person went back to self-service'")
    page.click("#cc-lang")

    # Nobody claimed it in time (the server's wait is minutes; the answer is rewritten to say so).
    def timed_out(route: Any) -> None:
        answer = route.fetch()
        data = answer.json()
        data["handoff"].update(status="timed_out", ended_by="system", agent_id=None, agent=None)
        route.fulfill(response=answer, json=data)
    page.route(f"**/agent/api/handoffs/{handoff}", timed_out)
    page.evaluate("CreditbotConsole.drop()")  # reconnecting refetches the open conversation
    page.wait_for_selector("#cc-detail[data-status=timed_out][data-ended-by=system]", state="attached")
    assert page.locator("#cc-detail-status").inner_text() == "等待超时，已转回自助服务"


# --------------------------------------------------------------------------- a reply outlives the session


def test_a_typed_reply_survives_the_session_ending_and_comes_back_after_sign_in(
        server: ServerProcess, new_page: Any, screenshot: Any) -> None:
    carol = ("carol", "Carol 张")
    add_agent(server, carol[0], carol[1], PASSWORD)
    console = agent_console(new_page, server, carol)
    page = console.page
    before = console.waiting_ids()
    person = RestPerson(server, "rest-draft-1")
    person.say("人工")
    handoff = console.new_handoff(before)
    console.select(handoff)
    console.claim()
    person.wait_text("Carol 张")

    draft = "您的报告预计两个工作日内出来，\n请留意短信通知"
    page.fill("#cc-reply", draft)
    set_agent_disabled(server, carol[0], True)  # an operator disables the account: its sessions end
    page.locator("#cc-reply").press("Enter")
    page.wait_for_selector("#cc[data-view=signin]", state="attached")
    assert "登录已失效" in page.locator("#cc-signin-notice").inner_text()
    assert page.locator("#cc-signin-draft").is_visible()
    assert "未发送的回复已保留" in page.locator("#cc-signin-draft").inner_text()
    assert draft not in page.content()  # nothing of the conversation stays in the page meanwhile
    screenshot(page, "console-session-ended-draft-kept")

    # Still disabled: the usual answer, nothing about the account.
    page.fill("#cc-username", carol[0])
    page.fill("#cc-password", PASSWORD)
    page.click("#cc-signin-submit")
    page.locator("#cc-signin-error").wait_for()
    assert "用户名或密码不正确" in page.locator("#cc-signin-error").inner_text()

    set_agent_disabled(server, carol[0], False)
    console.sign_in(carol[0], PASSWORD)
    page.wait_for_function("([id, text]) => document.querySelector('#cc-detail').dataset.handoffId === id"
                           " && document.querySelector('#cc-reply').value === text", arg=[str(handoff), draft])
    assert page.locator("#cc-signin-draft").is_hidden()
    assert "未发送的回复已放回回复框" in page.locator("#cc-detail-info").inner_text()
    page.locator("#cc-reply").press("Enter")
    console.wait_line("请留意短信通知", "agent")
    person.wait_text("两个工作日")
