"""Fixtures for the Rasa tests: the assistant's files, `creditbot actions` as a real process on a free
loopback port, a client that speaks Rasa's action protocol, and backend services on the same database."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from fakes import make_settings
from rasa_env import RASA_DIR, ActionServer, load_yaml
from rasa_payloads import ActionClient
from rasa_sim import Assistant

from backend.services import Services, build_services


@pytest.fixture(scope="session")
def rasa_domain() -> dict[str, Any]:
    return load_yaml(RASA_DIR / "domain.yml")  # type: ignore[no-any-return]


@pytest.fixture(scope="session")
def rasa_rules() -> dict[str, Any]:
    return load_yaml(RASA_DIR / "data" / "rules.yml")  # type: ignore[no-any-return]


@pytest.fixture(scope="session")
def action_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ActionServer]:
    server = ActionServer(tmp_path_factory.mktemp("actions"))
    server.start()
    yield server
    code = server.stop()
    assert code == 0, f"the action server did not stop cleanly ({code}): {server.output()[-3000:]}"


@pytest.fixture
def client(action_server: ActionServer, rasa_domain: dict[str, Any]) -> ActionClient:
    return ActionClient(action_server.url, rasa_domain)


@pytest.fixture
def assistant(client: ActionClient, rasa_domain: dict[str, Any], rasa_rules: dict[str, Any]) -> Assistant:
    return Assistant(client, rasa_domain, rasa_rules)


@pytest.fixture
async def backend(action_server: ActionServer) -> AsyncIterator[Services]:
    """The backend on the action server's database, to set up accounts and read the sandbox SMS inbox."""
    services = build_services(make_settings(action_server.var_dir))
    yield services
    await services.close()
