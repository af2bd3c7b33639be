"""Get a ready result: the request number, the identity code texted to the owner's phone, then the result.

Only the sender that made the request, or the owner logged in from any sender, may fetch it; the
7-day retention is checked when the number is given and again at the end.
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import REQUESTED_SLOT
from rasa_sdk.types import DomainDict

from actions.asks import CodeAsk
from actions.base import SubmitAction
from actions.forms import SlotDict
from actions.gates import Refusal
from actions.replies import format_time
from actions.results import deliver
from actions.slots import SlotValidators
from actions.state import SenderState, code_proof
from backend.errors import ReportExpiredError, ReportNotFoundError, ReportNotReadyError
from backend.queries import RequestView
from backend.services import Services

FORM = "fetch_result_form"
SLOTS = ("request_id", "code")
PURPOSE = "result"
NOT_FOUND = Refusal("utter_fetch_result_not_found")


def parse_request_id(value: Any) -> int | None:
    try:
        return int(str(value).strip().lstrip("#"))
    except (TypeError, ValueError):
        return None


async def find_available(services: Services, state: SenderState, value: Any) -> RequestView | Refusal:
    """The request when this sender may have its result now; otherwise what to tell them."""
    request_id = parse_request_id(value)
    account_id = await state.account_id()
    try:
        if request_id is None:
            raise ReportNotFoundError
        request = await services.queries.get(request_id)
        mine = account_id == request.account_id
        if not (mine or (account_id is None and request.conversation_id == state.conversation_id)):
            raise ReportNotFoundError  # the same answer as for a number that does not exist
        return await services.queries.result_for(request.account_id, request.id)
    except ReportNotFoundError:
        return NOT_FOUND
    except ReportNotReadyError as exc:
        return Refusal("utter_fetch_result_not_ready", {"due": format_time(exc.fields["due_at"])})  # type: ignore[arg-type]
    except ReportExpiredError:
        return Refusal("utter_fetch_result_expired")


class ValidateFetchResultForm(SlotValidators):
    def name(self) -> str:
        return f"validate_{FORM}"

    async def validate_request_id(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                                  domain: DomainDict) -> SlotDict:
        found = await find_available(self.services, self.state(tracker), value)
        if found == NOT_FOUND:
            dispatcher.utter_message(response=NOT_FOUND.response)
            return {"request_id": None}
        if isinstance(found, Refusal):  # not ready, or expired: nothing to ask; the submit action says why
            return {"request_id": str(parse_request_id(value)), REQUESTED_SLOT: None}
        return {"request_id": str(found.id)}

    async def validate_code(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                            domain: DomainDict) -> SlotDict:
        phone = await owner_phone(self.services, tracker)
        return await self.check_code("code", PURPOSE, phone, dispatcher, tracker)


async def owner_phone(services: Services, tracker: Tracker) -> str | None:
    request_id = parse_request_id(tracker.get_slot("request_id"))
    if request_id is None:
        return None
    try:
        request = await services.queries.get(request_id)
    except ReportNotFoundError:
        return None
    return (await services.accounts.get(request.account_id)).phone


class ActionAskFetchResultFormCode(CodeAsk):
    slot = "code"
    purpose = PURPOSE

    def name(self) -> str:
        return f"action_ask_{FORM}_code"

    async def phone_for(self, tracker: Tracker) -> str | None:
        return await owner_phone(self.services, tracker)


class ActionFetchResult(SubmitAction):
    slots = SLOTS

    def name(self) -> str:
        return "action_fetch_result"

    async def submit(self, dispatcher: CollectingDispatcher, tracker: Tracker) -> list[EventType]:
        state = self.state(tracker)
        found = await find_available(self.services, state, tracker.get_slot("request_id"))
        if isinstance(found, Refusal):
            dispatcher.utter_message(response=found.response, **found.params)
            return []
        account = await self.services.accounts.get(found.account_id)
        if await state.unseal("code") != code_proof(PURPOSE, account.phone):
            dispatcher.utter_message(response="utter_form_incomplete")
            return []
        await deliver(self.services, dispatcher, tracker, found, account)
        return []
