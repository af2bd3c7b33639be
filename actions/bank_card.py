"""Bank-card verification as a Rasa form (card, name, document, reserved phone, SMS code, captcha).

A success is noted for a short while (quick query may then be opened without verifying again), or, when
quick query sent the person here to open it, opens it at once (see actions/quick_query.py).
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.asks import SlotPhoneCodeAsk
from actions.base import GatedAsk, SubmitAction
from actions.forms import SlotDict, valid_value
from actions.replies import translator
from actions.slots import SlotValidators, captcha_passed
from actions.state import JUST_VERIFIED, OPEN_QUICK_QUERY, SenderState, code_proof
from backend.accounts import AccountView
from backend.bankcards import CardHolder
from backend.identity_rules import mask_card
from backend.services import Services
from dialogs import validators

FORM = "bank_card_form"
SLOTS = ("card", "name", "id_type", "id_number", "phone", "sms_code", "captcha")
PURPOSE = "bank_card"
MAX_FAILURES = 3


class ValidateBankCardForm(SlotValidators):
    needs = ("login",)

    def name(self) -> str:
        return f"validate_{FORM}"

    async def validate_sms_code(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                                domain: DomainDict) -> SlotDict:
        return await self.check_code("sms_code", PURPOSE, tracker.get_slot("phone"), dispatcher, tracker)


class ActionAskBankCardFormCard(GatedAsk):
    needs = ("login",)
    response = "utter_ask_card"

    def name(self) -> str:
        return f"action_ask_{FORM}_card"


class ActionAskBankCardFormSmsCode(SlotPhoneCodeAsk):
    slot = "sms_code"
    purpose = PURPOSE

    def name(self) -> str:
        return f"action_ask_{FORM}_sms_code"


class ActionVerifyBankCard(SubmitAction):
    needs = ("login",)
    slots = SLOTS

    def name(self) -> str:
        return "action_verify_bank_card"

    async def submit(self, dispatcher: CollectingDispatcher, tracker: Tracker) -> list[EventType]:
        account = await self.account(tracker)
        state = self.state(tracker)
        outcome = await verify_card(self.services, account, tracker, state)  # type: ignore[arg-type]
        if isinstance(outcome, CardHolder):
            return await self.succeeded(dispatcher, tracker, outcome)
        dispatcher.utter_message(response=outcome)
        if await state.count_failure(PURPOSE) >= MAX_FAILURES:
            await state.clear_failures(PURPOSE)
            await state.take_note(OPEN_QUICK_QUERY)
            dispatcher.utter_message(response="utter_bank_card_too_many")
            return []
        dispatcher.utter_message(response="utter_bank_card_retry")
        return [FollowupAction(FORM)]

    async def succeeded(self, dispatcher: CollectingDispatcher, tracker: Tracker, claim: CardHolder) -> list[EventType]:
        state = self.state(tracker)
        await state.clear_failures(PURPOSE)
        account = await self.account(tracker)
        assert account is not None  # the gate let us in
        params = {"card_masked": mask_card(claim.card), "level": translator(tracker)(f"level.{account.security_level}")}
        if await state.take_note(OPEN_QUICK_QUERY):
            await self.services.accounts.set_quick_query(account.id, True)
            dispatcher.utter_message(response="utter_bank_card_verified_for_quick_query", **params)
            dispatcher.utter_message(response="utter_quick_query_opened")
        else:
            await state.note(JUST_VERIFIED)
            dispatcher.utter_message(response="utter_bank_card_verified", **params)
        return [SlotSet("security_level", account.security_level)]


async def verify_card(services: Services, account: AccountView, tracker: Tracker,
                      state: SenderState) -> CardHolder | str:
    """Checks the form's answers again, then the holder and the bank; binds the card on success.

    Returns the verified card holder, or the response that says what failed.
    """
    claim = await build_claim(tracker, state)
    if claim is None:
        return "utter_form_incomplete"
    if (claim.name, claim.id_type, claim.id_number) != (account.name, account.id_type, account.id_number):
        return "utter_bank_card_not_holder"
    check = await services.bank.verify(claim)
    if not check.ok:
        return f"utter_bank_card_{check.outcome}"
    await services.accounts.add_verified_card(account.id, claim.card)
    return claim


async def build_claim(tracker: Tracker, state: SenderState) -> CardHolder | None:
    """The four elements, each checked again with the same rules; None if any fails or the code is missing."""
    slot = tracker.get_slot
    fields = {
        "card": valid_value(validators.card(await state.unseal("card") or "")),
        "name": valid_value(validators.name(str(slot("name")))),
        "id_type": str(slot("id_type")),
        "id_number": valid_value(validators.document_number(str(slot("id_type")), str(slot("id_number")))),
        "phone": valid_value(validators.phone(str(slot("phone")))),
    }
    coded = await state.unseal("sms_code") == code_proof(PURPOSE, str(fields["phone"]))
    if None in fields.values() or not coded or not await captcha_passed(tracker, state):
        return None
    return CardHolder(**{key: str(value) for key, value in fields.items()})

