"""The keyword recogniser: Chinese and English free text to intents, and data never read as an intent."""

from __future__ import annotations

import pytest

from dialogs.intents import GLOBAL_WORDS, INTENT_KEYWORDS, Intent, global_word, normalise, recognise
from dialogs.registry import FLOWS

# Intents the engine acts on without a flow of that name (engine._free_text).
COMMAND_INTENTS = {"help", "cancel", "back", "menu", "logout", "lang_en", "lang_zh", "agent", "bot"}

PHRASES = [
    # request_report
    ("我要查信用报告", "request_report"),
    ("查征信", "request_report"),
    ("我想查一下我的征信报告", "request_report"),
    ("申请个人信用报告", "request_report"),
    ("查一下我的信用", "request_report"),
    ("I want my credit report", "request_report"),
    ("Can I get my credit report, please?", "request_report"),
    ("apply for a report", "request_report"),
    # register
    ("注册", "register"),
    ("我想注册账号", "register"),
    ("新用户注册", "register"),
    ("申请注册", "register"),
    ("sign me up", "register"),
    ("Sign up", "register"),
    ("I want to register", "register"),
    ("create an account", "register"),
    ("How do I register?", "register"),
    # login
    ("登录", "login"),
    ("我要登陆", "login"),
    ("log in please", "login"),
    ("Login", "login"),
    ("sign me in", "login"),
    # logout (not cancel, not login)
    ("退出登录", "logout"),
    ("注销登录", "logout"),
    ("log out", "logout"),
    ("please log me out", "logout"),
    # guide
    ("新手导航", "guide"),
    ("怎么用？", "guide"),
    ("how do I use this", "guide"),
    ("What can you do?", "guide"),
    ("how does this work", "guide"),
    # help
    ("帮助", "help"),
    ("help", "help"),
    ("HELP!", "help"),
    ("ｈｅｌｐ", "help"),
    ("？", "help"),
    # cancel
    ("取消", "cancel"),
    ("算了", "cancel"),
    ("cancel", "cancel"),
    ("never mind", "cancel"),
    # back
    ("返回", "back"),
    ("上一步", "back"),
    ("go back", "back"),
    # menu
    ("主菜单", "menu"),
    ("返回主菜单", "menu"),
    ("menu", "menu"),
    ("你好", "menu"),
    ("hello", "menu"),
    ("Hi there", "menu"),
    # my_requests
    ("my requests", "my_requests"),
    ("我的申请", "my_requests"),
    ("查询结果", "my_requests"),
    ("What's the status of my request?", "my_requests"),
    # bank_card
    ("银行卡验证", "bank_card"),
    ("提升安全等级", "bank_card"),
    ("verify my bank card", "bank_card"),
    # quick_query
    ("快捷查询", "quick_query"),
    ("取消快捷查询", "quick_query"),
    ("turn on quick query", "quick_query"),
    # language
    ("English", "lang_en"),
    ("切换英文", "lang_en"),
    ("中文", "lang_zh"),
    ("switch to Chinese", "lang_zh"),
    # a person
    ("转人工", "agent"),
    ("我要找客服", "agent"),
    # nothing
    ("今天天气不错", None),
    ("王小明", None),
    ("阿依古丽·买买提", None),
    ("欧阳娜娜", None),
    ("John Smith", None),
    ("Zhang Wei", None),
    ("110105199003071239", None),
    ("11010519900307123X", None),
    ("11010519900307123x", None),
    ("110105 19900307 1239", None),
    ("15500000101", None),
    ("+86 155-0000-0101", None),
    ("6200 0000 0000 0000 018", None),
    ("123456", None),
    ("wangxm01", None),
    ("Abc12345!", None),
    ("", None),
    ("   ", None),
]


@pytest.mark.parametrize(("text", "expected"), PHRASES, ids=[f"{i}-{t or 'empty'}" for i, (t, _) in enumerate(PHRASES)])
def test_phrase_to_intent(text: str, expected: str | None) -> None:
    intent = recognise(text)
    assert (intent.name if intent else None) == expected


def test_the_table_is_big_and_covers_every_intent() -> None:
    assert len(PHRASES) >= 40
    named = {name for _, name in PHRASES if name}
    assert {"register", "login", "guide", "help", "cancel", "back", "menu", "logout", "my_requests", "bank_card",
            "quick_query", "request_report", "lang_en", "lang_zh"} <= named


def test_every_intent_leads_somewhere() -> None:
    """Each intent either starts a flow (one of its triggers) or is a command the engine knows."""
    triggers = {trigger for flow in FLOWS for trigger in flow.triggers}
    for name, _ in INTENT_KEYWORDS:
        assert name in triggers or name in COMMAND_INTENTS, name
    for word in GLOBAL_WORDS.values():
        assert word in COMMAND_INTENTS, word


def test_exact_phrase_is_more_confident_than_a_keyword_inside_a_sentence() -> None:
    exact, inside = recognise("注册"), recognise("我想注册账号")
    assert exact == Intent("register", 0.9)
    assert inside is not None and inside.name == "register" and inside.confidence < exact.confidence


def test_english_keywords_match_whole_words_only() -> None:
    assert recognise("backpack") is None
    assert recognise("Hilton") is None
    assert recognise("helper") is None
    assert recognise("starting") is None


@pytest.mark.parametrize(("text", "expected"), [
    ("帮助", "help"), ("Help", "help"), (" HELP ", "help"), ("取消", "cancel"), ("取消。", "cancel"),
    ("返回", "back"), ("上一步", "back"), ("English", "lang_en"), ("英文", "lang_en"), ("中文", "lang_zh"),
    ("Chinese", "lang_zh"), ("菜单", "menu"), ("主菜单", "menu"), ("退出登录", "logout"), ("转人工", "agent"),
    ("ＥＮＧＬＩＳＨ", "lang_en"),
])
def test_global_words(text: str, expected: str) -> None:
    assert global_word(text) == expected


@pytest.mark.parametrize("text", [
    # inside a question these are answers, even when they contain a command word
    "王小明", "Helper Wang", "help me", "我要取消", "back to the start", "English Li", "110105199003071239",
    "Abc12345!", "我想注册账号", "注册", "登录", "",
])
def test_answers_are_not_global_words(text: str) -> None:
    assert global_word(text) is None


def test_normalise_folds_width_case_and_spaces() -> None:
    assert normalise("  Ｌｏｇ\u3000  IN \n") == "log in"
    assert normalise("") == ""


@pytest.mark.parametrize(("text", "intent"), [
    ("我忘记密码了", "reset_password"), ("忘记登录名", "recover_login"), ("我要注销账户", "close_account"),
    ("修改手机号", "change_phone"), ("我的账户", "my_account"), ("用数字证书验证", "certificate"),
    ("I forgot my password", "reset_password"), ("close my account", "close_account"),
    ("注销登录", "logout"), ("登录", "login"),
])
def test_account_operations_are_recognised(text: str, intent: str) -> None:
    found = recognise(text)
    assert found is not None and found.name == intent
