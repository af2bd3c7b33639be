"""`creditbot actions`: rasa-sdk's server on loopback, serving exactly the domain's actions."""

from __future__ import annotations

from typing import Any

import httpx
from rasa_env import ActionServer
from rasa_payloads import ActionClient, Conversation, new_sender


async def test_it_listens_on_loopback_and_lists_the_domain_actions(action_server: ActionServer,
                                                                    rasa_domain: dict[str, Any]) -> None:
    async with httpx.AsyncClient() as http:
        listed = (await http.get(f"{action_server.url}/actions")).json()
    assert {a["name"] for a in listed} == set(rasa_domain["actions"])
    assert action_server.url.startswith("http://127.0.0.1:")


async def test_an_unknown_action_is_a_404(client: ActionClient) -> None:
    response = await client.raw("action_nope", Conversation(new_sender()).tracker())
    assert response.status_code == 404
    assert response.json()["action_name"] == "action_nope"
