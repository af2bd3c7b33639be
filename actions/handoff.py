"""Hand the conversation to a person, and leave a form the person no longer wants.

Before a human agent reads the conversation, every sealed secret of the sender is dropped and any
open form ends; the reply carries a `handoff` custom payload that the deployment's channel or agent
tool acts on (this action server has no agent console of its own).
"""

from __future__ import annotations

from rasa_sdk import Tracker
from rasa_sdk.events import ActiveLoop, EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import REQUESTED_SLOT
from rasa_sdk.types import DomainDict

from actions.base import CreditbotAction
from actions.state import OPEN_QUICK_QUERY, SECRET_SLOTS, SenderState

# The answers any of our forms collects; cleared when a form is left, as a submit action would.
FORM_SLOTS = ("name", "id_type", "id_number", "captcha", "agreement", "login_name", "password", "password_confirm",
              "phone", "sms_code", "card", "decision", "product", "dynamic_code", "request_id", "code")


def leave_form() -> list[EventType]:
    return [ActiveLoop(None), SlotSet(REQUESTED_SLOT, None), *(SlotSet(slot, None) for slot in FORM_SLOTS)]


async def leave_state(state: SenderState) -> None:
    """Nothing a left form was doing carries on: sealed secrets, and a quick query waiting to be opened."""
    await state.drop(*SECRET_SLOTS)
    await state.take_note(OPEN_QUICK_QUERY)


class ActionHandoff(CreditbotAction):
    def name(self) -> str:
        return "action_handoff"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        await leave_state(self.state(tracker))
        dispatcher.utter_message(response="utter_handoff", json_message={"handoff": {"reason": "user_request"}})
        return [*leave_form(), SlotSet("handoff", True)]


class ActionCancel(CreditbotAction):
    def name(self) -> str:
        return "action_cancel"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        await leave_state(self.state(tracker))
        active = (tracker.active_loop or {}).get("name")
        dispatcher.utter_message(response="utter_cancelled" if active else "utter_nothing_to_cancel")
        return leave_form()
