"""Message catalogs: every user-facing text, by key, in zh-CN (default) and English."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

LOCALES_DIR = Path(__file__).resolve().parent / "locales"
DEFAULT_LANG = "zh"
LANGS = ("zh", "en")


@cache
def load_catalog(lang: str) -> dict[str, str]:
    """`<lang>.json` plus any `<lang>.<topic>.json`, so a feature can keep its texts in its own file."""
    merged: dict[str, str] = {}
    for path in [LOCALES_DIR / f"{lang}.json", *sorted(LOCALES_DIR.glob(f"{lang}.*.json"))]:
        part = json.loads(path.read_text(encoding="utf-8"))
        clash = merged.keys() & part.keys()
        if clash:
            msg = f"{path.name} repeats catalog keys: {sorted(clash)[:5]}"
            raise ValueError(msg)
        merged.update(part)
    return merged


def pick_lang(hint: str | None) -> str:
    """Telegram sends IETF tags such as en-GB or zh-hans; anything unknown gets the default."""
    if hint and hint.lower().startswith("en"):
        return "en"
    return DEFAULT_LANG


class Translator:
    def __init__(self, lang: str) -> None:
        self.lang = lang if lang in LANGS else DEFAULT_LANG
        self._texts = load_catalog(self.lang)
        self._fallback = load_catalog(DEFAULT_LANG)

    def __call__(self, key: str, **params: Any) -> str:
        template = self._texts.get(key) or self._fallback[key]
        return template.format(**params) if params else template

    def has(self, key: str) -> bool:
        return key in self._texts or key in self._fallback

    def first(self, keys: list[str], **params: Any) -> str:
        for key in keys:
            if self.has(key):
                return self(key, **params)
        raise KeyError(keys[-1])
