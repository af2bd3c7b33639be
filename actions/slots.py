"""`validate_<slot>` and `extract_<slot>` methods shared by every form that asks these slots.

rasa-sdk finds them by name and calls only those of the slots the running form requires, so one
class can hold them all. Each one applies the rule the built-in dialog manager applies
(dialogs/validators.py, backend/identity_rules.py) and normalises the value it keeps.
"""

from __future__ import annotations

from abc import ABC
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.forms import FormValidation, SlotDict
from actions.state import SenderState
from backend.identity_rules import ID_TYPES, RESIDENT_ID, clean_text
from dialogs import validators
from dialogs.catalog import LANGS, Translator
from dialogs.forms import Invalid, Valid, Validation

CAPTCHA_PASSED = "passed"
# What people type for the most common document besides the catalog's full names.
ID_TYPE_ALIASES = {"身份证": RESIDENT_ID, "id card": RESIDENT_ID}


async def captcha_passed(tracker: Tracker, state: SenderState) -> bool:
    """The form's captcha was solved here, by the server's record, not only by the slot's word."""
    return tracker.get_slot("captcha") == CAPTCHA_PASSED and await state.unseal("captcha") == CAPTCHA_PASSED


def parse_id_type(value: Any) -> Validation:
    """A platform ID-type code ("0", "A") or a document name in either language."""
    text = clean_text(str(value or ""))
    if text.upper() in validators.ID_TYPE_CODES:
        return Valid(text.upper())
    names = {Translator(lang)(f"id_type.{key}").lower(): code for code, key in ID_TYPES for lang in LANGS}
    code = names.get(text.lower()) or ID_TYPE_ALIASES.get(text.lower())
    return Valid(code) if code else Invalid("id_type.unknown")


class SlotValidators(FormValidation, ABC):
    def validate_name(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                      domain: DomainDict) -> SlotDict:
        return self.check("name", validators.name(str(value)), dispatcher)

    def validate_id_type(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                         domain: DomainDict) -> SlotDict:
        return self.check("id_type", parse_id_type(value), dispatcher)

    async def validate_id_number(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                                 domain: DomainDict) -> SlotDict:
        id_type, assumed = self.id_type_for(tracker)
        result = validators.document_number(id_type, str(value))
        return {**({"id_type": id_type} if assumed else {}), **self.check("id_number", result, dispatcher)}

    @staticmethod
    def id_type_for(tracker: Tracker) -> tuple[str, bool]:
        """The chosen document type; a number typed before any choice is taken as a resident ID (B17).

        Returns the code and whether it was assumed (then the slot is filled with it too).
        """
        chosen = tracker.get_slot("id_type")
        if chosen is None:
            return RESIDENT_ID, True
        parsed = parse_id_type(chosen)
        return (str(parsed.value), False) if isinstance(parsed, Valid) else (RESIDENT_ID, False)

    async def validate_phone(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                             domain: DomainDict) -> SlotDict:
        return self.check("phone", validators.phone(str(value)), dispatcher)

    async def validate_login_name(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                                  domain: DomainDict) -> SlotDict:
        return self.check("login_name", validators.login_name(str(value)), dispatcher)

    async def validate_captcha(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                               domain: DomainDict) -> SlotDict:
        # The slot's marker is believed only with the server's own record of the pass: typed as an
        # answer, "passed" is just a wrong captcha.
        state = self.state(tracker)
        if value == CAPTCHA_PASSED and await state.unseal("captcha") == CAPTCHA_PASSED:
            return {"captcha": CAPTCHA_PASSED}
        result = await validators.captcha(self.services, tracker.sender_id, str(value))
        if isinstance(result, Valid):
            await state.seal("captcha", CAPTCHA_PASSED)
        return self.check("captcha", Valid(CAPTCHA_PASSED) if isinstance(result, Valid) else result, dispatcher)

    # -- secret slots: sealed on extraction, checked on validation -----------------------------

    async def extract_card(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> SlotDict:
        return await self.extract_secret("card", tracker)

    async def validate_card(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                            domain: DomainDict) -> SlotDict:
        return await self.validate_secret("card", validators.card, dispatcher, tracker)

    async def extract_password(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                               domain: DomainDict) -> SlotDict:
        return await self.extract_secret("password", tracker)

    async def validate_password(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                                domain: DomainDict) -> SlotDict:
        return await self.validate_secret("password", validators.password, dispatcher, tracker)

    async def extract_sms_code(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                               domain: DomainDict) -> SlotDict:
        return await self.extract_secret("sms_code", tracker)

    async def extract_dynamic_code(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                                   domain: DomainDict) -> SlotDict:
        return await self.extract_secret("dynamic_code", tracker)

    async def extract_code(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> SlotDict:
        return await self.extract_secret("code", tracker)
