"""Log in (login name, password, captcha) and log out; the Rasa sender is then bound to the account."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.base import CreditbotAction, GatedAsk, SubmitAction
from actions.forms import SlotDict
from actions.replies import translator
from actions.slots import SlotValidators, captcha_passed
from actions.state import SECRET_SLOTS
from backend.errors import AccountLockedError, BadCredentialsError
from dialogs.forms import Valid

FORM = "login_form"
SLOTS = ("login_name", "password", "captcha")


class ValidateLoginForm(SlotValidators):
    needs = ("no_login",)

    def name(self) -> str:
        return f"validate_{FORM}"

    async def validate_password(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                                domain: DomainDict) -> SlotDict:
        # No shape check here: the password is only compared with the stored hash, as in the built-in flow.
        return await self.validate_secret("password", Valid, dispatcher, tracker)


class ActionAskLoginFormLoginName(GatedAsk):
    needs = ("no_login",)
    response = "utter_ask_login_form_login_name"

    def name(self) -> str:
        return f"action_ask_{FORM}_login_name"


class ActionLogin(SubmitAction):
    needs = ("no_login",)
    slots = SLOTS

    def name(self) -> str:
        return "action_login"

    async def submit(self, dispatcher: CollectingDispatcher, tracker: Tracker) -> list[EventType]:
        state = self.state(tracker)
        password = await state.unseal("password")
        if password is None or not await captcha_passed(tracker, state):
            dispatcher.utter_message(response="utter_form_incomplete")
            return []
        accounts = self.services.accounts
        try:
            account = await accounts.login(str(tracker.get_slot("login_name")), password)
        except BadCredentialsError:
            # One message whether the name exists or not, and no count that would tell them apart.
            dispatcher.utter_message(response="utter_login_failed", max_failures=accounts.policy.max_failures,
                                     minutes=accounts.policy.lock_seconds // 60)
            return [FollowupAction(FORM)]
        except AccountLockedError as exc:
            dispatcher.utter_message(response="utter_login_locked", minutes=exc.minutes)
            return []
        await state.bind(account.id)
        dispatcher.utter_message(response="utter_logged_in", account_name=account.login_name,
                                 level=translator(tracker)(f"level.{account.security_level}"))
        return [SlotSet("logged_in", True), SlotSet("security_level", account.security_level)]


class ActionLogout(CreditbotAction):
    def name(self) -> str:
        return "action_logout"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        state = self.state(tracker)
        was_in = await state.account_id() is not None
        await state.unbind()
        await state.drop(*SECRET_SLOTS)
        dispatcher.utter_message(response="utter_logged_out" if was_in else "utter_not_logged_in")
        return [SlotSet("logged_in", False), SlotSet("security_level", None)]
