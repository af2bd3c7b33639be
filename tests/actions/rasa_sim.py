"""A small stand-in for Rasa's form machinery, driving our action server over HTTP (Rasa itself does
not install on this Python).

It follows rasa/core/actions/forms.py and action_extract_slots for the parts our assistant uses:
slot mappings from the domain fill candidates from a message; at activation the pre-filled required
slots are validated; after each answer `validate_<form>` runs; the next empty slot (or the one the
validation action names) is asked with the first of action_ask_<form>_<slot>, utter_ask_<form>_<slot>,
action_ask_<slot>, utter_ask_<slot> found in the domain; when nothing is left to ask, the form ends
and the submit action from rules.yml runs. Every bot response is kept, in order, in `said`.
"""

from __future__ import annotations

from typing import Any

from rasa_payloads import ActionClient, Conversation, Result


class FormRejected(AssertionError):
    """The validation action filled nothing: Rasa would reject the form and let rules answer."""


class Assistant:
    def __init__(self, client: ActionClient, domain: dict[str, Any], rules: dict[str, Any]) -> None:
        self.client, self.domain = client, domain
        self.submits = submit_actions(rules)
        self.said: list[dict[str, Any]] = []

    @property
    def said_names(self) -> list[str]:
        return [r.get("response") or "" for r in self.said]

    def required(self, form: str) -> list[str]:
        return list(self.domain["forms"][form]["required_slots"])

    async def start(self, conv: Conversation, form: str, text: str = "", intent: str = "",
                    entities: list[dict[str, Any]] | None = None) -> None:
        """The person's message starts `form` (its intent's rule); pre-filled slots are validated first."""
        conv.user(text or intent, intent or form.removesuffix("_form"), entities)
        conv.set(**self.extract(conv))
        await self.activate(conv, form)

    async def activate(self, conv: Conversation, form: str) -> None:
        # Rasa validates the pre-filled slots before the form's ActiveLoop event takes effect.
        conv.set(requested_slot=None)
        prefilled = {s: conv.slots[s] for s in self.required(form) if conv.slots.get(s) is not None}
        result = await self.client.validate(conv, form, **prefilled) if prefilled else None
        conv.active_loop = form
        await self.next(conv, form, result)

    async def say(self, conv: Conversation, text: str, intent: str = "inform",
                  entities: list[dict[str, Any]] | None = None) -> None:
        """The person answers the open question of the active form."""
        form = conv.active_loop
        assert form, "no form is active"
        conv.user(text, intent, entities)
        candidates = self.extract(conv)
        conv.set(**candidates)
        result = await self.client.validate(conv, form, **candidates)
        if not {k for k in result.slots if k != "requested_slot"}:
            raise FormRejected(f"{form} rejected {text!r}")
        await self.next(conv, form, result)

    async def next(self, conv: Conversation, form: str, result: Result | None) -> None:
        if result is not None:
            self.said += result.responses
        asked = result.slots.get("requested_slot", "") if result and "requested_slot" in result.slots else ""
        slot = asked if asked != "" else next((s for s in self.required(form) if conv.slots.get(s) is None), None)
        if slot and await self.ask(conv, form, slot):
            return
        conv.active_loop = None
        conv.set(requested_slot=None)
        submitted = await self.client.act(conv, self.submits[form])
        self.said += submitted.responses
        follow = next((e["name"] for e in submitted.events if e["event"] == "followup"), None)
        if follow:
            await self.activate(conv, follow)

    async def ask(self, conv: Conversation, form: str, slot: str) -> bool:
        """Asks for `slot`; False when an ask action ended the form instead."""
        conv.set(requested_slot=slot)
        name = self.ask_for(form, slot)
        if name.startswith("utter_"):
            self.said.append({"response": name})
            return True
        result = await self.client.act(conv, name)
        self.said += result.responses
        return result.slots.get("requested_slot", slot) is not None

    def ask_for(self, form: str, slot: str) -> str:
        actions, responses = set(self.domain["actions"]), set(self.domain["responses"])
        for name in (f"action_ask_{form}_{slot}", f"utter_ask_{form}_{slot}", f"action_ask_{slot}",
                     f"utter_ask_{slot}"):
            if name in actions or name in responses:
                return name
        raise AssertionError(f"nothing in the domain asks for {slot} in {form}")

    def extract(self, conv: Conversation) -> dict[str, Any]:
        """action_extract_slots: the slots this message fills through the domain's mappings."""
        found: dict[str, Any] = {}
        for slot, spec in self.domain["slots"].items():
            for mapping in spec.get("mappings", []):
                value = mapping_value(mapping, conv)
                if value is not None:
                    found[slot] = value
                    break
        return found


def mapping_value(mapping: dict[str, Any], conv: Conversation) -> Any:
    message, intent = conv.latest_message, conv.latest_message["intent"]["name"]
    conditions = mapping.get("conditions")
    if conditions and not any(c.get("active_loop") == conv.active_loop and
                              c.get("requested_slot") == conv.slots.get("requested_slot") for c in conditions):
        return None
    if intent in mapping.get("not_intent", []) or ("intent" in mapping and intent != mapping["intent"]):
        return None
    kind = mapping["type"]
    if kind == "from_entity":
        return next((e["value"] for e in message["entities"] if e["entity"] == mapping["entity"]), None)
    if kind == "from_text":
        return message["text"]
    if kind == "from_intent":
        return mapping["value"]
    return None  # custom: filled by the validation action's extract_<slot>


def submit_actions(rules: dict[str, Any]) -> dict[str, str]:
    """Form -> the action its "submit" rule runs after the form ends."""
    found = {}
    for rule in rules["rules"]:
        steps = rule["steps"]
        if len(steps) >= 2 and "action" in steps[0] and steps[1] == {"active_loop": None}:
            found[steps[0]["action"]] = steps[-1]["action"]
    return found
