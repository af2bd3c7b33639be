"""List the account's requests with their status, with a button to fetch each ready result."""

from __future__ import annotations

from rasa_sdk import Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.base import CreditbotAction
from actions.replies import button, format_time, translator
from backend.queries import RequestView
from dialogs.catalog import Translator
from dialogs.flows.my_requests import FETCHABLE


class ActionMyRequests(CreditbotAction):
    needs = ("login",)

    def name(self) -> str:
        return "action_my_requests"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        refusal = await self.gate(tracker)
        if refusal is not None:
            dispatcher.utter_message(response=refusal.response, **refusal.params)
            return []
        account_id = await self.state(tracker).account_id()
        requests = await self.services.queries.list_for(account_id)  # type: ignore[arg-type]
        if not requests:
            dispatcher.utter_message(response="utter_my_requests_none")
            return []
        t = translator(tracker)
        dispatcher.utter_message(response="utter_my_requests_header")
        for request in requests:
            self.utter_line(dispatcher, t, request)
        return []

    @staticmethod
    def utter_line(dispatcher: CollectingDispatcher, t: Translator, request: RequestView) -> None:
        buttons = []
        if request.status in FETCHABLE:
            buttons.append(button(t("my_requests.fetch", number=request.id), "fetch_result",
                                  request_id=str(request.id)))
        dispatcher.utter_message(response="utter_my_requests_line", buttons=buttons, number=request.id,
                                 product_name=t(f"product.{request.product}"),
                                 submitted=format_time(request.created_at), due=format_time(request.due_at),
                                 status_name=t(f"status.{request.status}"))
