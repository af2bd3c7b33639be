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
    after = w.last_seq()
    page.keyboard.type("help")
    page.keyboard.press("Enter")  # Enter sends
    shown = w.wait_turn(after)
    assert shown[0]["text"] == "help" and shown[1]["from"] == "bot"
    w.say("/menu")
    choice = page.locator('.cb-choice[data-payload="/guide"]').last  # not the last one: that switches language
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


def header_fits(page: Any) -> bool:
    """The title is not cut off and nothing in the header spills out of the panel."""
    return page.evaluate("""() => {
        const title = document.querySelector('.cb-title'), panel = document.querySelector('.cb-panel');
        const right = panel.getBoundingClientRect().right;
        const inside = [...document.querySelectorAll('.cb-header > *')]
            .every(n => n.getBoundingClientRect().right <= right + 0.5);
        return title.scrollWidth <= title.clientWidth && inside;
    }""")


def test_a_first_visit_shows_the_greeting_and_menu_and_a_reload_does_not_repeat_it(
        server: ServerProcess, new_page: Any, screenshot: Any) -> None:
    page = new_page(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    w = Widget(page, server).open()
    page.wait_for_selector(".cb-log .cb-choice[data-payload='/register']")
    greeting = w.entries()
    assert [e["from"] for e in greeting] == ["bot", "bot"] and "您好" in greeting[0]["text"]
    assert header_fits(page)
    screenshot(page, "widget-phone-390-first-visit")
    page.reload()
    w.wait_connected()
    page.wait_for_function("n => document.querySelectorAll('.cb-log [data-seq]').length >= n", arg=len(greeting))
    time.sleep(0.5)
    assert w.entries() == greeting  # the same two entries, not greeted again


def test_typing_english_relabels_the_widget_too(server: ServerProcess, new_page: Any, screenshot: Any) -> None:
    page = new_page(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    w = Widget(page, server).open()
    assert page.locator(".cb-sr").first.text_content() == "助手："
    w.say("English")
    assert page.locator(".cb-send").inner_text() == "Send"
    assert page.locator(".cb-input").get_attribute("placeholder").startswith("Type a message")
    assert page.locator(".cb-title").inner_text() == "Credit report assistant"
    assert page.locator(".cb-lang").inner_text() == "中文"
    labels = page.eval_on_selector_all(".cb-log [data-seq] .cb-sr", "ns => ns.map(n => n.textContent)")
    assert set(labels) == {"You:", "Assistant:"}  # the earlier messages' labels follow too
    assert header_fits(page)  # the longer English title wraps, it is not cut off
    screenshot(page, "widget-phone-390-en")
    w.say("中文")
    assert page.locator(".cb-send").inner_text() == "发送"
    assert page.locator(".cb-title").inner_text() == "个人征信服务助手"
    page.reload()  # the language survives a reload: the log says it
    w.wait_connected()
    assert page.locator(".cb-send").inner_text() == "发送"


def test_choice_buttons_show_their_number_and_a_typed_number_picks_it(
        server: ServerProcess, new_page: Any) -> None:
    page = new_page()
    w = Widget(page, server).open()
    w.say("注册")
    w.say(P1["name"])
    first = page.locator('.cb-choice[data-payload="/id_type:0"]').last
    assert first.inner_text() == "1 · 居民身份证"
    assert page.locator('.cb-choice[data-payload="/id_type:1"]').last.inner_text().startswith("2 · ")
    menu = page.locator('.cb-choice[data-payload="/register"]').first
    assert not menu.get_attribute("data-number")  # commands take no number, so none is shown
    shown = w.say("1")  # typing the number is the same as the button
    assert "证件号码" in texts(shown)


def test_an_uploaded_file_shows_its_name_as_text(server: ServerProcess, new_page: Any, tmp_path: Path) -> None:
    page = new_page()
    alerts = record_dialogs(page)
    w = Widget(page, server).open()
    name = "<img src=x onerror=alert(1)>.p12"
    path = tmp_path / "cert.p12"
    path.write_bytes(b"\x30\x82 not a certificate")
    after = w.last_seq()
    page.locator(".cb-file").set_input_files(files=[{"name": name, "mimeType": "application/x-pkcs12",
                                                       "buffer": path.read_bytes()}])
    shown = w.wait_turn(after)
    assert shown[0]["text"] == "📎 " + name
    assert page.locator(".cb-log img:not(.cb-image)").count() == 0 and alerts == []


def test_after_a_resize_the_newest_message_is_in_view(server: ServerProcess, new_page: Any) -> None:
    page = new_page(viewport={"width": 1280, "height": 860})
    w = Widget(page, server).open()
    for word in ["帮助", "/menu", "帮助"]:
        w.say(word)
    page.set_viewport_size({"width": 390, "height": 844})
    page.wait_for_timeout(300)
    page.set_viewport_size({"width": 390, "height": 500})
    page.wait_for_function("""() => {
        const log = document.querySelector('.cb-log');
        return log.scrollHeight - log.scrollTop - log.clientHeight < 2 && log.scrollHeight > log.clientHeight;
    }""")

