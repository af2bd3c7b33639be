"""The base of our form validation actions: gate first, then rasa-sdk's extract/validate by slot name.

Secret slots (passwords, card numbers, codes) use Rasa's `custom` slot mapping, so Rasa never copies
the message into the slot: `extract_<slot>` seals the person's answer in the backend store and puts
the marker `SEALED` in the slot, and `validate_<slot>` checks the sealed value with the same rule the
built-in dialog manager uses.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import REQUESTED_SLOT, FormValidationAction
from rasa_sdk.types import DomainDict

from actions.base import ServicesMixin
from actions.replies import utter_invalid
from actions.state import SEALED, SECRET_SLOTS, VERIFIED, code_proof
from dialogs import validators
from dialogs.forms import Invalid, Valid, Validation
from dialogs.intents import global_word

SlotDict = dict[str, Any]
CODE_SLOTS = frozenset({"sms_code", "code", "dynamic_code"})  # slots whose sealed value becomes a code_proof
Rule = Callable[[str], Validation | Awaitable[Validation]]
# Actions Rasa may log between the person's message and the form's validation.
PASSIVE_ACTIONS = frozenset({"action_extract_slots"})


class FormValidation(ServicesMixin, FormValidationAction, ABC):  # type: ignore[misc]  # rasa-sdk ships no types
    @abstractmethod
    def name(self) -> str: ...

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        if await self.gate(tracker) is not None:
            # Ends the form without a word: the submit action Rasa runs next says why, once.
            return [SlotSet(REQUESTED_SLOT, None)]
        stray = drop_stray_candidates(tracker, self.form_name())
        events: list[EventType] = await super().run(dispatcher, tracker, domain)
        return [*events, *(SlotSet(slot, None) for slot in stray)]

    def check(self, slot: str, result: Validation, dispatcher: CollectingDispatcher) -> SlotDict:
        """A valid value fills the slot (normalised); an invalid one is said once and clears it."""
        if isinstance(result, Valid):
            return {slot: result.value}
        utter_invalid(dispatcher, result)
        return {slot: None}

    # -- secret slots ---------------------------------------------------------------------------

    async def extract_secret(self, slot: str, tracker: Tracker) -> SlotDict:
        text = fresh_answer(tracker, slot, self.form_name())
        if text is None:
            return {}
        if text.strip().lower().startswith(VERIFIED):
            # A checked code's sealed proof starts so (code_proof): typed at a code question it must
            # not pass for one. No code starts with letters; a password may, so only codes are cleared.
            text = "" if slot in CODE_SLOTS else text
        await self.state(tracker).seal(slot, text)
        return {slot: SEALED}

    async def validate_secret(self, slot: str, rule: Rule, dispatcher: CollectingDispatcher,
                              tracker: Tracker) -> SlotDict:
        state = self.state(tracker)
        raw = await state.unseal(slot)
        if raw is None:
            return {slot: None}  # sealed value expired: the question is simply asked again
        result = rule(raw)
        result = await result if isinstance(result, Awaitable) else result
        if isinstance(result, Invalid):
            await state.drop(slot)
            utter_invalid(dispatcher, result)
            return {slot: None}
        await state.seal(slot, str(result.value))
        return {slot: SEALED}

    async def check_code(self, slot: str, purpose: str, phone: str | None, dispatcher: CollectingDispatcher,
                         tracker: Tracker, verify: Callable[[str], Awaitable[Validation]] | None = None) -> SlotDict:
        """Checks the sealed code with the backend (single use); keeps only a sealed proof.

        `verify` checks a code that did not come by SMS to `phone` (an authenticator app's); the proof
        left behind is the same, bound to the account's phone.
        """
        state = self.state(tracker)
        raw = await state.unseal(slot)
        if raw is None or phone is None:
            return {slot: None}
        proof = code_proof(purpose, phone)
        if raw.startswith(VERIFIED):  # validated before (the form was resumed): still the same phone?
            return {slot: VERIFIED if raw == proof else None}
        result = await (verify(raw) if verify else validators.verify_code(self.services, purpose, phone, raw))
        if isinstance(result, Invalid):
            await state.drop(slot)
            utter_invalid(dispatcher, result)
            return {slot: None}
        await state.seal(slot, proof)
        return {slot: VERIFIED}


def valid_value(result: Validation) -> Any | None:
    return result.value if isinstance(result, Valid) else None


def drop_stray_candidates(tracker: Tracker, form: str) -> list[str]:
    """A message that answers a secret question fills nothing else: returns the other slots it filled.

    An entity extractor may find an ID or phone number inside a card number, and Rasa would pass it
    as a candidate for that slot. It is taken out before validation (so no error is said about it)
    and the slot is cleared, so no part of the secret stays in another slot.
    """
    requested = tracker.get_slot(REQUESTED_SLOT)
    if requested not in SECRET_SLOTS or fresh_answer(tracker, requested, form) is None:
        return []
    stray = [name for name in tracker.slots_to_validate() if name not in (requested, REQUESTED_SLOT)]
    start = _candidates_start(tracker.events)
    tracker.events = tracker.events[:start] + [e for e in tracker.events[start:] if e.get("name") not in stray]
    for name in stray:
        tracker.slots[name] = None
    return stray


def _candidates_start(events: list[dict[str, Any]]) -> int:
    """Where the trailing slot events (the candidates Rasa appends) begin."""
    index = len(events)
    while index > 0 and events[index - 1].get("event") == "slot":
        index -= 1
    return index


def fresh_answer(tracker: Tracker, slot: str, form: str) -> str | None:
    """The person's message when it answers the question `slot` just now, else None.

    Only a message that came straight after the question counts: when the form resumes after help
    or a handoff, the last message was not an answer. A bare command word ("取消", "help") is not an
    answer either, so the form lets Rasa's rules handle it, as the built-in engine does.
    """
    if tracker.get_slot(REQUESTED_SLOT) != slot:
        return None
    for event in reversed(tracker.events):
        kind = event.get("event")
        if kind == "user":
            text = str(event.get("text") or "")
            return text if text and global_word(text) is None else None
        if kind == "action" and event.get("name") not in PASSIVE_ACTIONS | {form}:
            return None
    return None
