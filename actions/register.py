"""Registration as a Rasa form: identity (name, document, captcha, agreement), then the account itself."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import REQUESTED_SLOT
from rasa_sdk.types import DomainDict

from actions.asks import SlotPhoneCodeAsk
from actions.base import GatedAsk, SubmitAction
from actions.forms import SlotDict, valid_value
from actions.replies import utter_invalid
from actions.slots import SlotValidators, captcha_passed
from actions.state import SenderState, code_proof
from backend.accounts import NewAccount
from backend.errors import IdentityTakenError, LoginNameTakenError
from backend.identity_rules import mask_id, mask_name, mask_phone
from dialogs import validators
from dialogs.flows.register import login_check_allowed
from dialogs.forms import Invalid, Valid

FORM = "register_form"
SLOTS = ("name", "id_type", "id_number", "captcha", "agreement", "login_name", "password", "password_confirm",
         "phone", "sms_code")
PURPOSE = "register"
STOPPED = "register_stopped"  # a note: the form was ended by a limit, already explained


class ValidateRegisterForm(SlotValidators):
    needs = ("no_login",)

    def name(self) -> str:
        return f"validate_{FORM}"

    def validate_id_number(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                           domain: DomainDict) -> SlotDict:
        # Whether the document has an account is said only at the submit, after the captcha and the
        # phone's code: said here it answered "is this person registered?" for anyone, at no cost.
        id_type, assumed = self.id_type_for(tracker)
        result = validators.document_number(id_type, str(value))
        return {**({"id_type": id_type} if assumed else {}), **self.check("id_number", result, dispatcher)}

    def validate_agreement(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                           domain: DomainDict) -> SlotDict:
        if value == "decline":
            return {"agreement": "decline", REQUESTED_SLOT: None}  # ends the form; the submit action says so
        result = Valid(value) if value == "accept" else Invalid("choice.unknown")
        return self.check("agreement", result, dispatcher)

    async def validate_login_name(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                                  domain: DomainDict) -> SlotDict:
        result = validators.login_name(str(value))
        if not isinstance(result, Valid):
            return self.check("login_name", result, dispatcher)
        if not await login_check_allowed(self.services.kv, f"rasa:{tracker.sender_id}"):
            # As in the built-in flow: enough lookups to find a free name, too few to list who is here.
            await self.state(tracker).note(STOPPED)
            utter_invalid(dispatcher, Invalid("login_name.too_many"))
            return {"login_name": None, REQUESTED_SLOT: None}  # ends the form; the submit stays silent
        if await self.services.accounts.login_name_exists(result.value):
            result = Invalid("login_taken")
        return self.check("login_name", result, dispatcher)

    async def extract_password_confirm(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                                       domain: DomainDict) -> SlotDict:
        return await self.extract_secret("password_confirm", tracker)

    async def validate_password_confirm(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                                        domain: DomainDict) -> SlotDict:
        state = self.state(tracker)
        typed, password = await state.unseal("password_confirm"), await state.unseal("password")
        if typed is not None and typed == password:
            return {"password_confirm": value}
        await state.drop("password", "password_confirm")
        if typed is not None:
            utter_invalid(dispatcher, Invalid("password.mismatch"))
        return {"password": None, "password_confirm": None}  # both asked again, as the built-in flow does

    async def validate_sms_code(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                                domain: DomainDict) -> SlotDict:
        return await self.check_code("sms_code", PURPOSE, tracker.get_slot("phone"), dispatcher, tracker)


class ActionAskRegisterFormName(GatedAsk):
    needs = ("no_login",)
    response = "utter_ask_name"

    def name(self) -> str:
        return f"action_ask_{FORM}_name"


class ActionAskRegisterFormSmsCode(SlotPhoneCodeAsk):
    slot = "sms_code"
    purpose = PURPOSE

    def name(self) -> str:
        return f"action_ask_{FORM}_sms_code"


class ActionRegister(SubmitAction):
    needs = ("no_login",)
    slots = SLOTS

    def name(self) -> str:
        return "action_register"

    async def submit(self, dispatcher: CollectingDispatcher, tracker: Tracker) -> list[EventType]:
        if tracker.get_slot("agreement") == "decline":
            utter_invalid(dispatcher, Invalid("agreement.declined"))
            return []
        if await self.state(tracker).take_note(STOPPED):
            return []  # the validation said why when it ended the form
        new = await build_application(tracker, self.state(tracker))
        if new is None:
            dispatcher.utter_message(response="utter_form_incomplete")
            return []
        try:
            await self.services.accounts.register(new)
        except IdentityTakenError:  # nothing was written: the unique index refused the whole account
            utter_invalid(dispatcher, Invalid("identity_taken"))
            return []
        except LoginNameTakenError:
            utter_invalid(dispatcher, Invalid("login_taken"))
            return []
        dispatcher.utter_message(response="utter_registered", name_masked=mask_name(new.name),
                                 id_masked=mask_id(new.id_number), account_name=new.login_name,
                                 phone_masked=mask_phone(new.phone))
        return []


async def build_application(tracker: Tracker, state: SenderState) -> NewAccount | None:
    """Every answer checked again with the same rules before anything is written (B17): None if any fails."""
    slot = tracker.get_slot
    password = valid_value(validators.password(await state.unseal("password") or ""))
    fields = {
        "name": valid_value(validators.name(str(slot("name")))),
        "id_type": str(slot("id_type")),
        "id_number": valid_value(validators.document_number(str(slot("id_type")), str(slot("id_number")))),
        "login_name": valid_value(validators.login_name(str(slot("login_name")))),
        "password": password,
        "phone": valid_value(validators.phone(str(slot("phone")))),
    }
    confirmed = password is not None and await state.unseal("password_confirm") == password
    coded = await state.unseal("sms_code") == code_proof(PURPOSE, str(fields["phone"]))
    answered = await captcha_passed(tracker, state) and slot("agreement") == "accept"
    if None in fields.values() or not (confirmed and coded and answered):
        return None
    return NewAccount(**{key: str(value) for key, value in fields.items()})
