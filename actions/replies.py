"""Response names the actions utter and the only values they put into them: masks, labels, times.

Every message goes out as `dispatcher.utter_message(response="utter_...", **params)`: the text lives
in the assistant's domain (Chinese, with English variants chosen by the `language` slot). A
parameter is never a slot name, so a response can never echo a slot's raw value by accident.
"""

from __future__ import annotations

import json
from datetime import datetime

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from backend.clock import PRODUCT_TZ
from dialogs.catalog import DEFAULT_LANG, LANGS, Translator
from dialogs.forms import Invalid

LANGUAGE_SLOT = "language"


def invalid_response(reason: str) -> str:
    """`id_number.check_digit` -> `utter_invalid_id_number_check_digit`."""
    return "utter_invalid_" + reason.replace(".", "_")


def utter_invalid(dispatcher: CollectingDispatcher, invalid: Invalid) -> None:
    dispatcher.utter_message(response=invalid_response(invalid.reason), **invalid.params)


def lang_of(tracker: Tracker) -> str:
    lang = tracker.get_slot(LANGUAGE_SLOT)
    return lang if lang in LANGS else DEFAULT_LANG


def translator(tracker: Tracker) -> Translator:
    """The built-in catalogs, for values that go into a response (product names, statuses, SMS text)."""
    return Translator(lang_of(tracker))


def format_time(when: datetime) -> str:
    """Beijing time, whatever the server's zone; the response says so in its own words."""
    return when.astimezone(PRODUCT_TZ).strftime("%Y-%m-%d %H:%M")


def button(title: str, intent: str, **entities: str) -> dict[str, str]:
    """A Rasa button that sends an intent (and entities) straight to the assistant."""
    body = json.dumps(entities, ensure_ascii=False, separators=(",", ":")) if entities else ""
    return {"title": title, "payload": f"/{intent}{body}"}
