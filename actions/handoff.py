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
from actions.state import SECRET_SLOTS

# The answers any of our forms collects; cleared when a form is left, as a submit action would.
FORM_SLOTS = ("name", "id_type", "id_number", "captcha", "agreement", "login_name", "password", "password_confirm",
              "phone", "sms_code", "card", "decision", "product", "dynamic_code", "request_id", "code")


def leave_form() -> list[EventType]:
    return [ActiveLoop(None), SlotSet(REQUESTED_SLOT, None), *(SlotSet(slot, None) for slot in FORM_SLOTS)]


class ActionHandoff(CreditbotAction):
    def name(self) -> str:
        return "action_handoff"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        await self.state(tracker).drop(*SECRET_SLOTS)
        dispatcher.utter_message(response="utter_handoff", json_message={"handoff": {"reason": "user_request"}})
        return [*leave_form(), SlotSet("handoff", True)]


class ActionCancel(CreditbotAction):
    def name(self) -> str:
        return "action_cancel"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        await self.state(tracker).drop(*SECRET_SLOTS)
        active = (tracker.active_loop or {}).get("name")
        dispatcher.utter_message(response="utter_cancelled" if active else "utter_nothing_to_cancel")
        return leave_form()
