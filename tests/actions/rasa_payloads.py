"""Rasa's side of the action server protocol, for tests: trackers as Rasa sends them, and the client.

`Conversation` keeps what Rasa's tracker would hold (slots, events, active loop, latest message) and
builds the JSON Rasa POSTs to `/webhook`: next_action, sender_id, tracker, domain, version. For a
form's validation action it adds what Rasa's FormAction adds (rasa/core/actions/forms.py): the
requested slot, the form's own ActionExecuted, then the slot candidates.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
import rasa_sdk

_SENDERS = itertools.count(1)


def new_sender(prefix: str = "t") -> str:
    return f"{prefix}-{next(_SENDERS)}-{time.monotonic_ns() % 10**8}"


def slot_event(name: str, value: Any) -> dict[str, Any]:
    return {"event": "slot", "timestamp": time.time(), "name": name, "value": value}


def action_event(name: str) -> dict[str, Any]:
    return {"event": "action", "timestamp": time.time(), "name": name, "policy": None, "confidence": 1.0}


@dataclass
class Result:
    events: list[dict[str, Any]]
    responses: list[dict[str, Any]]

    @property
    def names(self) -> list[str]:
        """The response names uttered, in order."""
        return [r.get("response") or r.get("text") or "" for r in self.responses]

    @property
    def slots(self) -> dict[str, Any]:
        """The slots the action set, last value wins."""
        return {e["name"]: e["value"] for e in self.events if e["event"] == "slot"}

    def response(self, name: str) -> dict[str, Any]:
        return next(r for r in self.responses if r.get("response") == name)


@dataclass
class Conversation:
    sender_id: str
    slots: dict[str, Any] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)
    active_loop: str | None = None
    latest_message: dict[str, Any] = field(default_factory=dict)

    def user(self, text: str, intent: str = "inform", entities: list[dict[str, Any]] | None = None,
             confidence: float = 0.95) -> None:
        """The person says something (Rasa had listened; it then ran action_extract_slots)."""
        self.latest_message = {"text": text, "intent": {"name": intent, "confidence": confidence},
                               "entities": entities or [], "intent_ranking": []}
        self.events += [action_event("action_listen"),
                        {"event": "user", "timestamp": time.time(), "text": text,
                         "parse_data": self.latest_message, "input_channel": "rest"},
                        action_event("action_extract_slots")]

    def set(self, **slots: Any) -> None:
        for name, value in slots.items():
            self.slots[name] = value
            self.events.append(slot_event(name, value))

    def apply(self, result: Result) -> None:
        for event in result.events:
            self.events.append(event)
            if event["event"] == "slot":
                self.slots[event["name"]] = event["value"]
            elif event["event"] == "active_loop":
                self.active_loop = event.get("name")

    def tracker(self, extra: list[dict[str, Any]] | None = None, slots: dict[str, Any] | None = None) -> dict[str, Any]:
        events = self.events + (extra or [])
        return {"sender_id": self.sender_id, "slots": {**self.slots, **(slots or {})},
                "latest_message": self.latest_message, "events": events, "paused": False,
                "followup_action": None, "active_loop": {"name": self.active_loop} if self.active_loop else {},
                "latest_action_name": next((e["name"] for e in reversed(events) if e["event"] == "action"), None),
                "latest_input_channel": "rest"}

    def form_tracker(self, form: str, candidates: dict[str, Any]) -> dict[str, Any]:
        """What Rasa's FormAction sends to validate_<form>: its temporary tracker with the candidates."""
        requested = self.slots.get("requested_slot") if self.active_loop == form else None
        extra = [slot_event("requested_slot", requested), action_event(form),
                 *(slot_event(k, v) for k, v in candidates.items())]
        return self.tracker(extra, {"requested_slot": requested, **candidates})


class ActionClient:
    """POSTs action calls to the action server's /webhook the way Rasa does."""

    def __init__(self, url: str, domain: dict[str, Any]) -> None:
        self.url = url.rstrip("/")
        self.domain = domain

    def payload(self, action: str, tracker: dict[str, Any]) -> dict[str, Any]:
        return {"next_action": action, "sender_id": tracker["sender_id"], "tracker": tracker,
                "domain": self.domain, "version": rasa_sdk.__version__}

    async def raw(self, action: str, tracker: dict[str, Any]) -> httpx.Response:
        async with httpx.AsyncClient(timeout=30) as client:
            return await client.post(f"{self.url}/webhook", json=self.payload(action, tracker))

    async def run(self, action: str, tracker: dict[str, Any]) -> Result:
        response = await self.raw(action, tracker)
        assert response.status_code == 200, (action, response.status_code, response.text[:2000])
        body = response.json()
        return Result(body["events"], body["responses"])

    async def validate(self, conv: Conversation, form: str, **candidates: Any) -> Result:
        """Runs validate_<form> with these candidates and applies its events to the conversation."""
        result = await self.run(f"validate_{form}", conv.form_tracker(form, candidates))
        conv.set(**candidates)
        conv.apply(result)
        return result

    async def act(self, conv: Conversation, action: str) -> Result:
        result = await self.run(action, conv.tracker())
        conv.apply(result)
        return result
