"""A small keyword recogniser for free text, used when no Rasa NLU server is configured."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

# Checked in order: the more specific phrases first ("退出登录" before "退出").
INTENT_KEYWORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("logout", ("退出登录", "注销登录", "登出", "log out", "logout", "sign out")),
    ("my_requests", ("我的申请", "查询记录", "申请记录", "获取结果", "查询结果", "my requests", "my request",
                     "my results", "status")),
    ("quick_query", ("快捷查询", "quick query")),
    ("bank_card", ("银行卡", "安全等级", "身份验证", "bank card", "security level", "verify")),
    ("request_report", ("信用报告", "征信", "信用信息", "查报告", "查询信用", "我要查", "credit report",
                        "credit", "report")),
    ("register", ("注册", "开户", "register", "sign up", "signup")),
    ("login", ("登录", "登陆", "log in", "login", "sign in")),
    ("guide", ("新手", "指南", "引导", "怎么用", "guide", "how does", "how to")),
    ("help", ("帮助", "help", "怎么办", "?", "？")),
    ("cancel", ("取消", "cancel", "stop", "算了")),
    ("back", ("返回", "上一步", "back")),
    ("menu", ("菜单", "主菜单", "开始", "menu", "start", "hi", "hello", "你好", "您好")),
    ("lang_en", ("english", "英文", "英语")),
    ("lang_zh", ("中文", "chinese", "汉语")),
)

# While a question is open, only a whole message that is exactly one of these words acts globally;
# a name or a password that merely contains "help" must reach the question.
GLOBAL_WORDS: dict[str, str] = {
    "帮助": "help", "help": "help", "取消": "cancel", "cancel": "cancel", "返回": "back", "back": "back",
    "上一步": "back", "english": "lang_en", "中文": "lang_zh", "菜单": "menu", "menu": "menu",
    "人工": "agent", "转人工": "agent", "客服": "agent", "human": "agent", "agent": "agent",
}


@dataclass(frozen=True)
class Intent:
    name: str
    confidence: float


def normalise(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).strip().lower()
    return re.sub(r"\s+", " ", text)


def recognise(text: str) -> Intent | None:
    cleaned = normalise(text)
    if not cleaned:
        return None
    for name, words in INTENT_KEYWORDS:
        if any(_matches(cleaned, word) for word in words):
            return Intent(name, 0.9 if cleaned in words else 0.7)
    return None


def _matches(text: str, word: str) -> bool:
    if word.isascii() and word.replace(" ", "").isalpha():
        return re.search(rf"\b{re.escape(word)}\b", text) is not None
    return word in text


def global_word(text: str) -> str | None:
    return GLOBAL_WORDS.get(normalise(text))
