"""action_handoff and action_cancel: leave the form, clear its slots and every sealed secret."""

from __future__ import annotations

from rasa_payloads import ActionClient, Conversation, new_sender


async def seal_a_password(client: ActionClient) -> Conversation:
    conv = Conversation(new_sender("handoff"), active_loop="register_form")
    conv.set(requested_slot="password", name="王小明")
    conv.user("Abc12345!")
    assert (await client.validate(conv, "register_form")).slots["password"] == "sealed"
    return conv


async def test_handoff_leaves_the_form_and_forgets_secrets(client: ActionClient) -> None:
    conv = await seal_a_password(client)
    result = await client.act(conv, "action_handoff")
    assert result.names == ["utter_handoff"]
    assert result.responses[0]["custom"] == {"handoff": {"reason": "user_request"}}
    assert {"event": "active_loop", "name": None} in [{k: e.get(k) for k in ("event", "name")}
                                                       for e in result.events]
    assert result.slots["handoff"] is True and result.slots["name"] is None
    # The sealed password is gone: validating the marker again clears it without a word.
    conv.set(requested_slot="password_confirm")
    again = await client.validate(conv, "register_form", password="sealed")
    assert again.slots["password"] is None and again.responses == []


async def test_cancel_inside_and_outside_a_form(client: ActionClient) -> None:
    conv = await seal_a_password(client)
    assert (await client.act(conv, "action_cancel")).names == ["utter_cancelled"]
    assert conv.active_loop is None and conv.slots["password"] is None
    assert (await client.act(conv, "action_cancel")).names == ["utter_nothing_to_cancel"]
