"""The web chat widget in a real browser: the whole journey to the PDF, reloads, drops, tabs, phones, English."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
from chat_widget import PHONE, WAIT_MS, Widget, texts
from fakes import CAPTCHA, P1
from procs import ServerProcess

MARKUP = ["<script>alert(1)</script> **粗体**", "[点我](javascript:alert(1))", "<img src=x onerror=alert(1)>"]


def record_dialogs(page: Any) -> list[str]:
    """Every alert() that runs; B46 says none may."""
    seen: list[str] = []
    page.on("dialog", lambda dialog: (seen.append(dialog.message), dialog.dismiss()))
    return seen


def register_and_log_in(w: Widget, screenshot: Any) -> None:
    page = w.page
    w.say("注册")
    w.say(P1["name"])
    w.tap("/id_type:0")
    shown = w.say(P1["id_number"])
    assert page.locator(".cb-log img.cb-image").last.get_attribute("src").startswith("data:image/png;base64,")
    assert shown[0]["text"] != P1["id_number"]  # the echo is masked
    w.say(CAPTCHA)
    w.tap("/agreement:accept")
    w.say("wangxm01")
    assert page.locator(".cb-input").get_attribute("type") == "password"  # the bot asks a secret
    screenshot(page, "widget-password-masked")
    assert w.say("Abc12345!")[0]["text"] == "••••••"
    w.say("Abc12345!")
    assert page.locator(".cb-input").get_attribute("type") == "text"
    w.say(P1["phone"])
    assert "注册成功" in texts(w.say(w.code(P1["phone"])))
    for step in ["登录", "wangxm01", "Abc12345!"]:
        w.say(step)
    assert "登录成功" in texts(w.say(CAPTCHA))


def test_whole_journey_to_the_pdf_with_a_reload_a_drop_and_a_second_tab(
        server: ServerProcess, new_page: Any, screenshot: Any, tmp_path: Path) -> None:
    page = new_page(viewport={"width": 1280, "height": 860})
    alerts = record_dialogs(page)
    w = Widget(page, server).open()
    screenshot(page, "widget-desktop-zh-start")
    register_and_log_in(w, screenshot)

    before = w.entries()
    page.reload()  # in the middle of the journey: same conversation, whole history, flow goes on
    w.wait_connected()
    page.wait_for_function("n => document.querySelectorAll('.cb-log [data-seq]').length >= n", arg=len(before))
    assert w.entries() == before

    for step in ["/bank_card", P1["card"], P1["name"]]:
        w.say(step)
    w.tap("/id_type:0")
    w.say(P1["id_number"])
    w.say(P1["phone"])
    w.say(w.code(P1["phone"]))
    assert "银行卡验证通过" in texts(w.say(CAPTCHA))
    w.tap("/decision:open")
    w.say("我要查信用报告")
    assert "动态码" in texts(w.tap("/product:report"))
    assert "查询申请已提交" in texts(w.say(w.code(P1["phone"])))

    # The connection drops and stays down while the result falls due (3 s): the notice waits in the log.
    page.context.set_offline(True)
    page.evaluate("CreditbotWidget.drop()")
    page.wait_for_selector(".cb-root[data-connection=offline]", state="attached", timeout=WAIT_MS)
    time.sleep(4)
    assert page.locator(".cb-root").get_attribute("data-connection") == "offline"  # it really was down
    assert "已生成" not in texts(w.entries())
    page.context.set_offline(False)
    w.wait_connected()
    w.wait_text("已生成")
    screenshot(page, "widget-after-reconnect")

    second = page.context.new_page()  # same browser, so the same session: the same conversation
    other = Widget(second, server).open()
    second.wait_for_function("n => document.querySelectorAll('.cb-log [data-seq]').length >= n",
                             arg=len(w.entries()))
    assert other.entries() == w.entries()

    result = w.say(w.code(P1["phone"]))
    assert "个人信用报告" in texts(result)
    other.wait_text("个人信用报告已生成")
    link = page.locator(".cb-doc").last
    with page.expect_download(timeout=WAIT_MS) as download:
        link.click()
    saved = tmp_path / download.value.suggested_filename
    download.value.save_as(saved)
    assert saved.name.endswith(".pdf") and saved.read_bytes().startswith(b"%PDF")
    bare = httpx.get(server.url + str(link.get_attribute("data-url")), timeout=10)
    assert bare.status_code == 404  # the link alone, without the session, finds nothing
    screenshot(page, "widget-desktop-zh-pdf")
    screenshot(second, "widget-second-tab")

    entries = w.entries()
    seqs = [e["seq"] for e in entries]
    assert seqs == sorted(set(seqs)), "an entry shown twice or out of order"
    assert sum("已生成。身份验证码" in e["text"] for e in entries) == 1, "the result notice not exactly once"
    assert other.entries() == entries
    assert alerts == []


def test_markup_in_messages_is_shown_as_text(server: ServerProcess, new_page: Any, screenshot: Any) -> None:
    page = new_page()
    alerts = record_dialogs(page)
    w = Widget(page, server).open()
    for markup in MARKUP:
        assert w.say(markup)[0]["text"] == markup
    w.say("注册")
    w.say("<script>alert(3)</script>")  # a name the bot rejects; its echo is masked, still never markup
    page.reload()
    w.wait_connected()
    w.wait_text("javascript:alert(1)")
    assert page.locator(".cb-log a").count() == 0  # no link, so nothing to click
    assert page.locator(".cb-log img:not(.cb-image)").count() == 0
    assert page.locator(".cb-log script").count() == 0
    screenshot(page, "widget-markup-as-text")
    assert alerts == []


def test_english_on_a_phone_with_the_keyboard(server: ServerProcess, new_page: Any, screenshot: Any) -> None:
    page = new_page(viewport=PHONE, locale="en-US", is_mobile=True, has_touch=True)
    w = Widget(page, server).open()
    assert page.locator(".cb-agent").inner_text() == "Talk to a person"
    box = page.locator(".cb-input")
    assert box.get_attribute("placeholder").startswith("Type a message")
    assert box.get_attribute("aria-label") == "Message"
    assert page.locator(".cb-upload").get_attribute("aria-label") == "Upload a file"
    assert page.locator(".cb-log").get_attribute("role") == "log"
    width = page.evaluate("document.querySelector('.cb-panel').getBoundingClientRect().width")
    assert width <= PHONE["width"]  # fills the phone's screen, no sideways scrolling

    box.focus()
    page.keyboard.type("help")
    page.keyboard.press("Enter")  # Enter sends
    shown = w.wait_turn(0)
    assert shown[0]["text"] == "help" and shown[1]["from"] == "bot"
    w.say("/menu")
    choice = page.locator(".cb-choice").last
    choice.focus()
    assert page.evaluate("document.activeElement.classList.contains('cb-choice')")
    after = w.last_seq()
    page.keyboard.press("Enter")  # a button works from the keyboard too
    w.wait_turn(after)
    screenshot(page, "widget-phone-en")

    after = w.last_seq()
    page.locator(".cb-agent").click()  # "Talk to a person" sends /agent; whatever comes back is shown
    assert w.wait_turn(after)[0]["text"] == "Talk to a person"

    after = w.last_seq()
    page.locator(".cb-lang").click()  # to Chinese: the widget's labels and the bot's
    w.wait_turn(after)
    assert page.locator(".cb-agent").inner_text() == "人工客服"
    assert page.locator(".cb-send").inner_text() == "发送"
    screenshot(page, "widget-phone-zh")
