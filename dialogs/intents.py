"""A small keyword recogniser for free text, used when no Rasa NLU server is configured.

Free text reaches it only when no question is open, so it may look for keywords anywhere in a
message ("我想注册账号", "log in please"). What it must not do is read an intent into data that
people type: a name ("王小明", "John Smith"), an ID number, a phone or card number.

Chinese keywords match as substrings (Chinese has no spaces between words); English keywords
match whole words only, and a space in a keyword stands for any run of spaces (and allows the
small filler words listed in `_FILLERS`, so "sign me up" and "log me in" match "sign up"/"log in").
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

# Checked in order, the more specific intents first: "退出登录" is logout before "登录" is login,
# "我的申请" is my_requests before "申请" is request_report, "取消快捷查询" is quick_query (close
# it) before "取消" is cancel, and "返回主菜单" is menu before "返回" is back.
INTENT_KEYWORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    # Account operations first: "忘记登录名" is not a log-in, "注销账户" is not a log-out.
    ("recover_login", ("忘记登录名", "找回登录名", "忘记用户名", "找回用户名", "forgot my login", "forgot login",
                       "forgot username", "forgot my username")),
    ("reset_password", ("忘记密码", "重置密码", "找回密码", "forgot password", "forgot my password",
                        "reset password", "reset my password")),
    ("close_account", ("注销账户", "注销账号", "销户", "close account", "close my account", "delete my account")),
    ("change_phone", ("修改手机", "更换手机", "换手机号", "修改手机号", "change phone", "change my phone",
                      "new phone number")),
    ("my_account", ("我的账户", "我的账号", "账户信息", "my account", "account details")),
    ("authenticator", ("动态码应用", "身份验证器", "验证器", "authenticator")),  # before "身份验证" (bank_card)
    ("certificate", ("数字证书", "证书验证", "certificate")),
    ("question_verify", ("问题验证", "回答问题", "answer questions", "question verification")),
    ("logout", ("退出登录", "注销登录", "退出账号", "退出账户", "登出", "log out", "logout", "sign out",
                "signout")),
    ("my_requests", ("我的申请", "我的查询", "查询记录", "申请记录", "获取结果", "查询结果", "查看结果", "领取结果",
                     "申请进度", "查询进度", "办理进度", "my requests", "my request", "my applications",
                     "my application", "my results", "my result", "status", "results", "result")),
    ("quick_query", ("快捷查询", "quick query", "quick queries", "quick search")),
    ("bank_card", ("银行卡", "安全等级", "身份验证", "验证身份", "实名认证", "bank card", "bankcard",
                   "security level", "verify", "verification")),
    ("agent", ("人工", "客服", "human", "agent", "real person", "operator")),
    ("cancel", ("取消", "算了", "不办了", "cancel", "stop", "never mind", "nevermind", "forget it", "abort",
                "quit")),
    ("request_report", ("信用报告", "征信", "信用信息", "信用记录", "个人信用", "查报告", "查信用", "查询信用", "我要查",
                        "credit report", "credit", "report")),
    ("register", ("注册", "开户", "新用户", "register", "registration", "sign up", "signup",
                  "create account", "create an account", "new account", "open an account", "open account")),
    ("login", ("登录", "登陆", "log in", "login", "sign in", "signin")),
    ("request_report", ("申请", "信用", "apply", "request")),  # weak words: "申请注册" is register
    ("lang_en", ("english", "英文", "英语")),
    ("lang_zh", ("中文", "chinese", "汉语", "普通话")),
    ("menu", ("主菜单", "菜单", "首页", "main menu", "menu")),
    ("back", ("返回", "上一步", "上一个", "back", "previous")),
    ("guide", ("新手", "指南", "引导", "怎么用", "如何使用", "使用说明", "怎么办理", "如何办理", "流程", "介绍",
               "guide", "tutorial", "getting started", "how does", "how do", "how can", "how to", "how it works",
               "what can you do", "what is this", "what do you do")),
    ("help", ("帮助", "求助", "怎么办", "不会用", "help", "support", "?", "？")),
    ("menu", ("开始", "你好", "您好", "嗨", "在吗", "start", "hi", "hello", "hey", "good morning",
              "good afternoon", "good evening")),
)

# Words that may sit inside an English phrase without breaking it: "sign me up", "log me in".
_FILLERS = r"(?:(?:me|my|in|to|the|a|an|please)\s+)*"

# While a question is open, only a whole message that is exactly one of these words acts globally;
# a name or a password that merely contains "help" must reach the question.
GLOBAL_WORDS: dict[str, str] = {
    "帮助": "help", "help": "help",
    "取消": "cancel", "cancel": "cancel",
    "返回": "back", "back": "back", "上一步": "back",
    "english": "lang_en", "英文": "lang_en", "英语": "lang_en",
    "中文": "lang_zh", "chinese": "lang_zh", "简体中文": "lang_zh",
    "菜单": "menu", "主菜单": "menu", "menu": "menu", "main menu": "menu",
    "退出登录": "logout", "logout": "logout", "log out": "logout",
    "人工": "agent", "转人工": "agent", "人工客服": "agent", "客服": "agent", "human": "agent", "agent": "agent",
    "找客服": "agent", "talk to a person": "agent", "customer service": "agent",
    "返回机器人": "bot", "回到机器人": "bot", "机器人": "bot", "back to bot": "bot", "bot": "bot",
}

# Messages made only of digits, separators and at most a trailing X are data (ID, phone, card,
# code), never a request, whatever keyword a separator might resemble.
_DATA_ONLY = re.compile(r"[\d\s\-+()xX*#.]+")


@dataclass(frozen=True)
class Intent:
    name: str
    confidence: float


def normalise(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).strip().lower()
    text = text.replace("\u2019", "'")
    return re.sub(r"\s+", " ", text)


def recognise(text: str) -> Intent | None:
    cleaned = normalise(text)
    if not cleaned or _DATA_ONLY.fullmatch(cleaned):
        return None
    bare = cleaned.strip(" .!?,;:。！？，；：~～")
    for name, words in INTENT_KEYWORDS:
        if any(_matches(cleaned, word) for word in words):
            return Intent(name, 0.9 if bare in words else 0.7)
    return None


def _matches(text: str, word: str) -> bool:
    return _pattern(word).search(text) is not None


_PATTERNS: dict[str, re.Pattern[str]] = {}


def _pattern(word: str) -> re.Pattern[str]:
    pattern = _PATTERNS.get(word)
    if pattern is None:
        if word.isascii() and any(ch.isalpha() for ch in word):
            # Whole English words; "sign up" also matches "sign me up", "log in" matches "log me in".
            parts = [re.escape(p) for p in word.split(" ")]
            body = r"\s+".join(parts[:1] + [_FILLERS + p for p in parts[1:]])
            pattern = re.compile(rf"(?<![a-z0-9]){body}(?![a-z0-9])")
        else:
            pattern = re.compile(re.escape(word))
        _PATTERNS[word] = pattern
    return pattern


def global_word(text: str) -> str | None:
    cleaned = normalise(text)
    return GLOBAL_WORDS.get(cleaned) or GLOBAL_WORDS.get(cleaned.rstrip(".!。！"))
