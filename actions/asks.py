"""Questions that do something before they ask: show a new captcha picture, text a code.

Rasa runs `action_ask_<form>_<slot>` (or `action_ask_<slot>`) instead of the plain `utter_ask_<slot>`
response when the domain lists one. A code question runs again after a wrong answer; it texts a new
code only when the last one can no longer be used, so a typo does not cost the person a resend wait.
"""

from __future__ import annotations

import base64
from abc import ABC, abstractmethod
from typing import ClassVar

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import REQUESTED_SLOT
from rasa_sdk.types import DomainDict

from actions.base import CreditbotAction
from actions.replies import translator
from backend.errors import ResendTooSoonError
from backend.identity_rules import mask_phone


class ActionAskCaptcha(CreditbotAction):
    """A new picture for this sender; its answer replaces any earlier one (single use)."""

    def name(self) -> str:
        return "action_ask_captcha"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        png = await self.services.captcha.new(tracker.sender_id)
        await self.state(tracker).drop("captcha")  # a new picture: an earlier pass no longer counts
        image = "data:image/png;base64," + base64.b64encode(png).decode()
        dispatcher.utter_message(response="utter_ask_captcha", image=image)
        return []


class CodeAsk(CreditbotAction, ABC):
    """Texts a code for `purpose` to `phone_for(tracker)` when needed, then asks for it."""

    slot: ClassVar[str] = ""
    purpose: ClassVar[str] = ""

    @abstractmethod
    async def phone_for(self, tracker: Tracker) -> str | None: ...

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        phone = await self.phone_for(tracker)
        if phone is None:
            return [SlotSet(REQUESTED_SLOT, None)]  # nowhere to send it: the submit action says why
        subject = self.services.vault.lookup_hash("phone", phone)
        if await self.services.codes.usable(self.purpose, subject):
            dispatcher.utter_message(response="utter_code_still_valid", phone_masked=mask_phone(phone))
        else:
            await self.send(dispatcher, tracker, phone, subject)
        dispatcher.utter_message(response=f"utter_ask_{self.slot}")
        return []

    async def send(self, dispatcher: CollectingDispatcher, tracker: Tracker, phone: str, subject: str) -> None:
        codes = self.services.codes
        try:
            code = await codes.issue(self.purpose, subject)
        except ResendTooSoonError as exc:
            dispatcher.utter_message(response="utter_code_too_soon", seconds=exc.wait_seconds,
                                     phone_masked=mask_phone(phone))
            return
        minutes = codes.policy.ttl_seconds // 60
        await self.services.sms.send(phone, translator(tracker)(f"sms.{self.purpose}", code=code, minutes=minutes))
        dispatcher.utter_message(response="utter_code_sent", phone_masked=mask_phone(phone), minutes=minutes)


class SlotPhoneCodeAsk(CodeAsk, ABC):
    """The code goes to the phone number typed into this form (registration, bank card)."""

    async def phone_for(self, tracker: Tracker) -> str | None:
        phone = tracker.get_slot("phone")
        return str(phone) if phone else None
