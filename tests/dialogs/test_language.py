"""Language through the real engine: the locale picks the first language, words and /lang switch it,
and once in English every reply is English (apart from what the person typed and the 中文 button)."""

from __future__ import annotations

import re

from fakes import CAPTCHA, P1, Chat, documents_of, images_of, texts_of

from backend.clock import FixedClock
from backend.identity_rules import mask_name
from bot.wiring import App
from dialogs.catalog import load_catalog
from dialogs.types import Document, Image, Reply, Text

EN, ZH = load_catalog("en"), load_catalog("zh")
CJK = re.compile(r"[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef]")
LANG_BUTTON = "/lang"


def english_only(replies: list[Reply], *typed: str) -> None:
    """No Chinese in texts, buttons or captions, except what the person typed and the 中文 button."""
    for reply in replies:
        shown: list[str] = []
        if isinstance(reply, Text):
            shown.append(reply.text)
            shown.extend(b.title for b in reply.buttons if not b.payload.startswith(LANG_BUTTON))
            assert all(b.title == "中文" for b in reply.buttons if b.payload.startswith(LANG_BUTTON)), reply
        elif isinstance(reply, Image | Document):
            shown.append(reply.caption)
        for text in shown:
            for value in typed:
                text = text.replace(value, "")
            assert not CJK.search(text), f"Chinese in an English reply: {text!r}"


def prompts(replies: list[Reply]) -> list[str]:
    return [r.text for r in replies if isinstance(r, Text)]


def buttons(replies: list[Reply]) -> dict[str, str]:
    """Payloads by button; the language button ("/lang en" or "/lang zh") is listed as "/lang"."""
    return {LANG_BUTTON if b.payload.startswith(LANG_BUTTON) else b.payload: b.title
            for r in replies if isinstance(r, Text) for b in r.buttons}


# -- the first language -------------------------------------------------------------------------


async def test_telegram_turn_with_an_english_locale_starts_in_english(app: App) -> None:
    chat = Chat(app, "telegram:424242", locale="en-GB")
    replies = await chat.say("/start")
    assert prompts(replies)[0] == EN["welcome"]
    assert EN["menu.prompt"] in prompts(replies)
    assert buttons(replies) == {"/register": "Register", "/login": "Log in", "/guide": "Getting started",
                                "/reset_password": "Forgot password", "/recover_login": "Forgot login name",
                                "/agent": "Talk to a person", LANG_BUTTON: "中文"}
    english_only(replies)


async def test_first_free_text_with_an_english_locale_is_answered_in_english(app: App) -> None:
    chat = Chat(app, "telegram:424243", locale="en-US")
    replies = await chat.say("sign me up")
    assert EN["register.intro"] in prompts(replies)
    assert prompts(replies)[-1] == EN["register.name.prompt"]
    english_only(replies)


async def test_chinese_or_missing_locale_starts_in_chinese(app: App) -> None:
    for conversation, locale in (("telegram:1", "zh-hans"), ("telegram:2", None), ("telegram:3", "fr")):
        replies = await Chat(app, conversation, locale=locale).say("/start")
        assert prompts(replies)[0] == ZH["welcome"], (conversation, locale)
        assert buttons(replies)[LANG_BUTTON] == "English"


async def test_the_locale_only_picks_the_first_language(app: App) -> None:
    """A later turn's locale does not override a language the person chose."""
    chat = Chat(app, "telegram:424244", locale="en-GB")
    await chat.say("/start")
    await chat.say("中文")
    replies = await chat.say("/menu")
    assert prompts(replies) == [ZH["menu.prompt"]]


# -- switching mid-question -----------------------------------------------------------------------


async def test_english_mid_registration_asks_the_same_question_in_english_and_chinese_switches_back(
        app: App, chat: Chat) -> None:
    await chat.say("注册")
    await chat.say(P1["name"])
    replies = await chat.tap("/id_type:0")
    assert prompts(replies)[-1] == ZH["register.id_number.prompt"]

    replies = await chat.say("English")
    assert prompts(replies) == [EN["lang.switched"], EN["register.id_number.prompt"]]
    english_only(replies)

    # still the same question: the ID number answers it, and the next question comes in English
    replies = await chat.say(P1["id_number"])
    assert [i.caption for i in images_of(replies)] == [EN["captcha.caption"]]
    assert prompts(replies) == [EN["register.captcha.prompt"]]

    replies = await chat.say("中文")
    assert prompts(replies) == [ZH["lang.switched"], ZH["register.captcha.prompt"]]
    assert [i.caption for i in images_of(replies)] == [ZH["captcha.caption"]]

    replies = await chat.say(CAPTCHA)
    assert prompts(replies)[-1] == ZH["register.agreement.prompt"].format(agreement=ZH["agreement.text"])


async def test_switching_at_a_choice_shows_the_choices_in_the_new_language(app: App, chat: Chat) -> None:
    await chat.say("注册")
    replies = await chat.say(P1["name"])
    assert buttons(replies)["/id_type:0"] == "居民身份证"
    replies = await chat.say("english")
    assert prompts(replies)[-1] == EN["register.id_type.prompt"]
    assert buttons(replies)["/id_type:0"] == "Resident ID card"
    english_only(replies)
    # the English label, typed, is an answer too
    replies = await chat.say("resident id card")
    assert prompts(replies)[-1] == EN["register.id_number.prompt"]


async def test_switching_at_a_secret_question_re_asks_it_masked(app: App, chat: Chat) -> None:
    await _register_until_password(chat, "zh")
    replies = await chat.say("English")
    texts = [r for r in replies if isinstance(r, Text)]
    assert [t.text for t in texts] == [EN["lang.switched"], EN["register.password.prompt"]]
    assert texts[-1].secret_input


async def test_switching_at_a_code_question_texts_no_new_code(app: App, chat: Chat) -> None:
    await _register_until_password(chat, "zh")
    await chat.say("Abc12345!")
    await chat.say("Abc12345!")
    await chat.say(P1["phone"])
    inbox = await app.services.sms.inbox(P1["phone"])  # type: ignore[attr-defined]
    assert inbox[-1].text.startswith("【征信中心】")
    replies = await chat.say("English")
    assert prompts(replies) == [EN["lang.switched"], EN["register.sms_code.prompt"]]
    assert len(await app.services.sms.inbox(P1["phone"])) == len(inbox)  # type: ignore[attr-defined]
    replies = await chat.say(await chat.last_code(P1["phone"]))
    assert prompts(replies)[0].startswith("Registration complete!"), prompts(replies)
    english_only(replies, mask_name(P1["name"]))


async def test_lang_button_toggles(app: App, chat: Chat) -> None:
    replies = await chat.say("/start")
    assert buttons(replies)[LANG_BUTTON] == "English"

    replies = await chat.tap(LANG_BUTTON)
    assert prompts(replies) == [EN["lang.switched"], EN["menu.prompt"]]
    assert buttons(replies)[LANG_BUTTON] == "中文"
    english_only(replies)

    replies = await chat.tap(LANG_BUTTON)
    assert prompts(replies) == [ZH["lang.switched"], ZH["menu.prompt"]]
    assert buttons(replies)[LANG_BUTTON] == "English"

    replies = await chat.tap(LANG_BUTTON)
    assert prompts(replies)[0] == EN["lang.switched"]


async def test_lang_button_mid_question_toggles_and_re_asks(app: App, chat: Chat) -> None:
    await chat.say("登录")
    replies = await chat.tap(LANG_BUTTON)
    assert prompts(replies) == [EN["lang.switched"], EN["login.login_name.prompt"]]
    replies = await chat.tap(LANG_BUTTON)
    assert prompts(replies) == [ZH["lang.switched"], ZH["login.login_name.prompt"]]


async def test_an_old_english_button_tapped_again_keeps_english(app: App, chat: Chat) -> None:
    first_menu = await chat.say("/start")
    english_button = next(b for r in first_menu if isinstance(r, Text) for b in r.buttons if b.title == "English")
    await chat.tap(english_button.payload)
    replies = await chat.tap(english_button.payload)  # the same button, in the older message (Telegram keeps it)
    assert prompts(replies)[0] == EN["lang.switched"]


async def test_lang_with_an_argument_sets_that_language(app: App, chat: Chat) -> None:
    replies = await chat.say("/lang en")
    assert prompts(replies)[0] == EN["lang.switched"]
    replies = await chat.say("/lang en")
    assert prompts(replies)[0] == EN["lang.switched"]
    replies = await chat.say("/lang zh")
    assert prompts(replies)[0] == ZH["lang.switched"]


async def test_global_commands_answer_in_english(app: App, chat: Chat) -> None:
    await chat.say("English")
    await chat.say("register")
    replies = await chat.say("help")
    assert prompts(replies) == [EN["help.register"], EN["register.name.prompt"]]
    replies = await chat.say("back")
    assert prompts(replies) == [EN["back.first"], EN["register.name.prompt"]]
    replies = await chat.say("Hello World 123")  # not a valid name
    assert prompts(replies) == [EN["error.name.format"], EN["register.name.prompt"]]
    replies = await chat.say("cancel")
    assert prompts(replies) == [EN["cancelled"], EN["menu.prompt"]]
    replies = await chat.say("what is the weather")
    assert prompts(replies) == [EN["error.not_understood"], EN["menu.prompt"]]
    english_only(chat.history[1:])


async def test_a_choice_label_typed_in_the_other_language_still_answers(app: App, chat: Chat) -> None:
    await chat.say("English")
    await chat.say("register")
    await chat.say(P1["name"])
    replies = await chat.say("居民身份证")
    assert prompts(replies)[-1] == EN["register.id_number.prompt"]


# -- a whole journey in English -------------------------------------------------------------------


async def _register_until_password(chat: Chat, lang: str) -> None:
    await chat.say("注册" if lang == "zh" else "register")
    await chat.say(P1["name"])
    await chat.tap("/id_type:0")
    await chat.say(P1["id_number"])
    await chat.say(CAPTCHA)
    await chat.tap("/agreement:accept")
    await chat.say("wangxm01")


async def test_whole_journey_in_english(app: App, clock: FixedClock) -> None:
    chat = Chat(app, "rest:english", locale="en-GB")
    typed = (P1["name"], mask_name(P1["name"]))
    start = len(chat.history)

    await _register_until_password(chat, "en")
    await chat.say("Abc12345!")
    await chat.say("Abc12345!")
    replies = await chat.say(P1["phone"])
    assert any(p.startswith("A code has been sent to") for p in prompts(replies)), prompts(replies)
    inbox = await app.services.sms.inbox(P1["phone"])  # type: ignore[attr-defined]
    assert inbox[-1].text.startswith("[Credit Reference Center]"), inbox[-1].text
    replies = await chat.say(await chat.last_code(P1["phone"]))
    assert prompts(replies)[0].startswith("Registration complete!"), prompts(replies)
    assert mask_name(P1["name"]) in prompts(replies)[0]

    await chat.tap("/login")
    await chat.say("wangxm01")
    await chat.say("Abc12345!")
    replies = await chat.say(CAPTCHA)
    assert "Logged in. Welcome, wangxm01. Your security level: low." in prompts(replies)
    assert EN["guide.text"] in prompts(replies)

    await chat.tap("/bank_card")
    for answer in (P1["card"], P1["name"]):
        await chat.say(answer)
    await chat.tap("/id_type:0")
    await chat.say(P1["id_number"])
    await chat.say(P1["phone"])
    await chat.say(await chat.last_code(P1["phone"]))
    replies = await chat.say(CAPTCHA)
    assert "Bank card verified (6200 **** **** 0018). Your security level: high." in prompts(replies)
    assert prompts(replies)[-1] == EN["quick_query.prompt"]
    replies = await chat.tap("/decision:open")
    assert EN["quick_query.done_open"] in prompts(replies)

    await chat.tap("/request_report")
    replies = await chat.tap("/product:report")
    assert prompts(replies)[-1] == EN["request_report.dynamic_code.prompt"]
    replies = await chat.say(await chat.last_code(P1["phone"]))
    assert "(request no. 1: Personal credit report)" in prompts(replies)[0], prompts(replies)
    assert "(Beijing time)" in prompts(replies)[0]

    replies = await chat.tap("/my_requests")
    assert prompts(replies)[0].startswith("Your requests:\n#1 Personal credit report | submitted ")
    assert prompts(replies)[0].endswith("| in progress")

    clock.advance(61)
    assert await app.dispatcher.run_once() == 1
    pushed = [m.get("text", "") for m in await app.services.outbox.take(chat.conversation_id)]
    assert any(t.startswith("Your Personal credit report (request no. 1) is ready.") for t in pushed), pushed
    assert not any(CJK.search(t) for t in pushed), pushed
    inbox = await app.services.sms.inbox(P1["phone"])  # type: ignore[attr-defined]
    assert inbox[-1].text.startswith("[Credit Reference Center] Your query result is ready."), inbox[-1].text

    replies = await chat.say(await chat.last_code(P1["phone"]))
    assert EN["result.report"] in prompts(replies)
    docs = documents_of(replies)
    assert docs and docs[0].caption.startswith("Personal credit report (report no. "), docs
    english_only(chat.history[start:], *typed)
    assert "Personal credit report" in texts_of(chat.history)


async def test_result_notice_follows_the_language_the_person_uses_now(app: App, clock: FixedClock) -> None:
    chat = Chat(app, "rest:switcher", locale="en-GB")
    await _journey_to_a_submitted_request(chat)
    await chat.say("中文")
    clock.advance(61)
    assert await app.dispatcher.run_once() == 1
    pushed = [m.get("text", "") for m in await app.services.outbox.take(chat.conversation_id)]
    lead = ZH["result.ready"].format(product=ZH["product.hint"], number=1, phone="155****0101")
    assert pushed[0] == lead, pushed


async def _journey_to_a_submitted_request(chat: Chat) -> None:
    await _register_until_password(chat, "en")
    for answer in ("Abc12345!", "Abc12345!", P1["phone"]):
        await chat.say(answer)
    await chat.say(await chat.last_code(P1["phone"]))
    for answer in ("/login", "wangxm01", "Abc12345!", CAPTCHA, "/bank_card", P1["card"], P1["name"], "/id_type:0",
                   P1["id_number"], P1["phone"]):
        await chat.say(answer)
    await chat.say(await chat.last_code(P1["phone"]))
    for answer in (CAPTCHA, "/decision:open", "/request_report", "/product:hint"):
        await chat.say(answer)
    replies = await chat.say(await chat.last_code(P1["phone"]))
    assert prompts(replies)[0].startswith("Your request has been submitted"), prompts(chat.history[-8:])
