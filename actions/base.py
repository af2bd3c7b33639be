"""The glue every action shares: services (injected or installed), the sender's state, gates, submit.

rasa-sdk registers every concrete `Action` subclass it finds and builds it with no arguments, so the
bases here are abstract (`name` is an abstract method) and `services` falls back to the installed
bundle when none was passed (see actions/services.py).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, ClassVar

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import REQUESTED_SLOT
from rasa_sdk.types import DomainDict

from actions import gates
from actions.services import get_services
from actions.state import SenderState

if TYPE_CHECKING:
    from backend.accounts import AccountView
    from backend.services import Services


class ServicesMixin:
    """Services, the sender's state, the logged-in account and the form's gate."""

    needs: ClassVar[tuple[gates.Need, ...]] = ()

    def __init__(self, services: Services | None = None) -> None:
        self._services = services

    @property
    def services(self) -> Services:
        return self._services if self._services is not None else get_services()

    def state(self, tracker: Tracker) -> SenderState:
        return SenderState(self.services, tracker.sender_id)

    async def account(self, tracker: Tracker) -> AccountView | None:
        account_id = await self.state(tracker).account_id()
        return None if account_id is None else await self.services.accounts.get(account_id)

    async def gate(self, tracker: Tracker) -> gates.Refusal | None:
        return await gates.check(self.services, self.state(tracker), self.needs)


class CreditbotAction(ServicesMixin, Action, ABC):  # type: ignore[misc]  # rasa-sdk ships no types
    @abstractmethod
    def name(self) -> str: ...


class SubmitAction(CreditbotAction, ABC):
    """Runs when a form ends: checks the gate again, does the work, then clears the form's slots.

    The slots are cleared whatever happened, and the sealed secrets with them, so nothing from this
    form is left for the next one to pick up (slots are global in Rasa).
    """

    slots: ClassVar[tuple[str, ...]] = ()

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        refusal = await self.gate(tracker)
        if refusal is not None:
            dispatcher.utter_message(response=refusal.response, **refusal.params)
            events: list[EventType] = []
        else:
            events = await self.submit(dispatcher, tracker)
        await self.state(tracker).drop(*self.slots)
        return [*self.reset(), *events]

    def reset(self) -> list[EventType]:
        return [SlotSet(slot, None) for slot in self.slots]

    @abstractmethod
    async def submit(self, dispatcher: CollectingDispatcher, tracker: Tracker) -> list[EventType]: ...


class GatedAsk(CreditbotAction, ABC):
    """Asks a form's first question, or ends the form at once when its gate is shut."""

    response: ClassVar[str] = ""  # the question, a response in the domain

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        if await self.gate(tracker) is not None:
            return [SlotSet(REQUESTED_SLOT, None)]  # the submit action that follows says why
        dispatcher.utter_message(response=self.response)
        return []
