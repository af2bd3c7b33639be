"""Request one of the three credit products: confirmed by a dynamic code with quick query open, else by
verifying a bank card in the same form (the form's slots depend on the account, see `required_slots`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import bank_card
from actions.asks import CodeAsk, SlotPhoneCodeAsk
from actions.base import GatedAsk, SubmitAction
from actions.forms import SlotDict, valid_value
from actions.replies import format_time, lang_of, translator
from actions.slots import SlotValidators
from actions.state import code_proof
from backend.accounts import AccountView
from backend.bankcards import CardHolder
from backend.errors import CodeError
from backend.identity_rules import clean_text, mask_phone
from backend.queries import PRODUCTS
from dialogs import validators
from dialogs.catalog import LANGS, Translator
from dialogs.flows.authenticator import app_code_refusal
from dialogs.forms import Invalid, Valid, Validation

FORM = "request_report_form"
QUICK_SLOTS = ("product", "dynamic_code")
CARD_SLOTS = ("product", *bank_card.SLOTS)
PURPOSE = "request"


def parse_product(value: Any) -> Validation:
    """A product id ("report") or its name in either language ("个人信用报告")."""
    text = clean_text(str(value or "")).lower()
    names = {Translator(lang)(f"product.{p}").lower(): p for p in PRODUCTS for lang in LANGS}
    product = text if text in PRODUCTS else names.get(text)
    return Valid(product) if product else Invalid("choice.unknown")


class ValidateRequestReportForm(SlotValidators):
    needs = ("login",)

    def name(self) -> str:
        return f"validate_{FORM}"

    async def required_slots(self, domain_slots: list[str], dispatcher: CollectingDispatcher, tracker: Tracker,
                             domain: DomainDict) -> list[str]:
        account = await self.account(tracker)
        if account is None:
            return domain_slots
        return list(QUICK_SLOTS if account.quick_query else CARD_SLOTS)

    def validate_product(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                         domain: DomainDict) -> SlotDict:
        return self.check("product", parse_product(value), dispatcher)

    async def validate_dynamic_code(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                                    domain: DomainDict) -> SlotDict:
        account = await self.account(tracker)
        phone = None if account is None else account.phone
        app = self.app_code_check(account) if account is not None and account.authenticator else None
        return await self.check_code("dynamic_code", PURPOSE, phone, dispatcher, tracker, verify=app)

    def app_code_check(self, account: AccountView) -> Callable[[str], Awaitable[Validation]]:
        """The code the person's authenticator app shows, in place of one texted to the phone."""
        authenticator = self.services.authenticator

        async def check(code: str) -> Validation:
            shaped = validators.code(code)
            if isinstance(shaped, Invalid):
                return shaped  # "6 digits", as for an SMS code
            try:
                await authenticator.verify(account.id, shaped.value)
            except CodeError as exc:
                return app_code_refusal(exc, authenticator.policy)
            return shaped
        return check

    async def validate_sms_code(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                                domain: DomainDict) -> SlotDict:
        return await self.check_code("sms_code", bank_card.PURPOSE, tracker.get_slot("phone"), dispatcher,
                                        tracker)


class ActionAskRequestReportFormProduct(GatedAsk):
    needs = ("login",)
    response = "utter_ask_product"

    def name(self) -> str:
        return f"action_ask_{FORM}_product"


class ActionAskRequestReportFormDynamicCode(CodeAsk):
    slot = "dynamic_code"
    purpose = PURPOSE

    def name(self) -> str:
        return f"action_ask_{FORM}_dynamic_code"

    async def phone_for(self, tracker: Tracker) -> str | None:
        account = await self.account(tracker)
        return None if account is None else account.phone

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        account = await self.account(tracker)
        if account is not None and account.authenticator:
            dispatcher.utter_message(response="utter_ask_dynamic_code_app")  # the app shows it: nothing to text
            return []
        return await super().run(dispatcher, tracker, domain)


class ActionAskRequestReportFormSmsCode(SlotPhoneCodeAsk):
    slot = "sms_code"
    purpose = bank_card.PURPOSE

    def name(self) -> str:
        return f"action_ask_{FORM}_sms_code"


class ActionRequestReport(SubmitAction):
    needs = ("login",)
    slots = tuple(dict.fromkeys(QUICK_SLOTS + CARD_SLOTS))

    def name(self) -> str:
        return "action_request_report"

    async def submit(self, dispatcher: CollectingDispatcher, tracker: Tracker) -> list[EventType]:
        account = await self.account(tracker)
        assert account is not None  # the gate let us in
        product = valid_value(parse_product(tracker.get_slot("product")))
        failure = "utter_form_incomplete" if product is None else await self.confirm(tracker, account)
        if product is None or failure is not None:
            dispatcher.utter_message(response=failure or "utter_form_incomplete")
            return []
        state = self.state(tracker)
        request = await self.services.queries.submit(account.id, product, state.conversation_id,
                                                     lang_of(tracker))
        dispatcher.utter_message(response="utter_request_submitted", number=request.id,
                                 product_name=translator(tracker)(f"product.{product}"),
                                 due=format_time(request.due_at), phone_masked=mask_phone(account.phone))
        return []

    async def confirm(self, tracker: Tracker, account: AccountView) -> str | None:
        """None when the request is confirmed (dynamic code, or a bank card verified just now)."""
        state = self.state(tracker)
        if account.quick_query:
            coded = await state.unseal("dynamic_code") == code_proof(PURPOSE, account.phone)
            return None if coded else "utter_form_incomplete"
        outcome = await bank_card.verify_card(self.services, account, tracker, state)
        return None if isinstance(outcome, CardHolder) else outcome
