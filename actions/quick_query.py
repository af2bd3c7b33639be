"""Open quick query (requests then confirmed by a dynamic code to the account's phone), or close it again.

The person confirms the phone the dynamic codes will go to; it must be the account's own number.
Opening needs identity verification, as in the built-in dialogs (quick_query calls verify_identity):
a bank card verified just now (action_verify_bank_card notes it) counts; otherwise the bank-card form
follows, and a successful verification opens quick query (a note here asks it to). Closing needs none.
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, FollowupAction
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import bank_card
from actions.base import CreditbotAction, GatedAsk, SubmitAction
from actions.forms import SlotDict, valid_value
from actions.gates import Need
from actions.slots import SlotValidators
from actions.state import JUST_VERIFIED, OPEN_QUICK_QUERY
from dialogs import validators
from dialogs.forms import Invalid, Valid

FORM = "quick_query_form"
SLOTS = ("phone", "decision")
DECISIONS = ("yes", "no")
NEEDS: tuple[Need, ...] = ("login", "level_high")


class ValidateQuickQueryForm(SlotValidators):
    needs = NEEDS

    def name(self) -> str:
        return f"validate_{FORM}"

    async def validate_phone(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                             domain: DomainDict) -> SlotDict:
        result = validators.phone(str(value))
        account = await self.account(tracker)
        if isinstance(result, Valid) and account is not None and result.value != account.phone:
            result = Invalid("phone.not_account")
        return self.check("phone", result, dispatcher)

    def validate_decision(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                          domain: DomainDict) -> SlotDict:
        return self.check("decision", Valid(value) if value in DECISIONS else Invalid("choice.unknown"), dispatcher)


class ActionAskQuickQueryFormPhone(GatedAsk):
    needs = NEEDS
    response = "utter_ask_quick_query_form_phone"

    def name(self) -> str:
        return f"action_ask_{FORM}_phone"


class ActionAskQuickQueryFormDecision(CreditbotAction):
    """Offers to open quick query, or to close it when it is open already."""

    def name(self) -> str:
        return f"action_ask_{FORM}_decision"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        account = await self.account(tracker)
        is_open = account is not None and account.quick_query
        dispatcher.utter_message(response="utter_ask_decision_close" if is_open else "utter_ask_decision_open")
        return []


class ActionQuickQuery(SubmitAction):
    needs = NEEDS
    slots = SLOTS

    def name(self) -> str:
        return "action_quick_query"

    async def submit(self, dispatcher: CollectingDispatcher, tracker: Tracker) -> list[EventType]:
        account = await self.account(tracker)
        assert account is not None  # the gate let us in
        phone = valid_value(validators.phone(str(tracker.get_slot("phone"))))
        decision = tracker.get_slot("decision")
        if phone != account.phone or decision not in DECISIONS:
            dispatcher.utter_message(response="utter_form_incomplete")
            return []
        if decision == "no":
            dispatcher.utter_message(response="utter_quick_query_kept" if account.quick_query
                                     else "utter_quick_query_declined")
            return []
        state = self.state(tracker)
        if not account.quick_query and not await state.take_note(JUST_VERIFIED):
            await state.note(OPEN_QUICK_QUERY)
            dispatcher.utter_message(response="utter_quick_query_needs_verification")
            return [FollowupAction(bank_card.FORM)]
        await self.services.accounts.set_quick_query(account.id, not account.quick_query)
        dispatcher.utter_message(response="utter_quick_query_closed" if account.quick_query
                                 else "utter_quick_query_opened")
        return []
