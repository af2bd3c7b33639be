"""`creditbot actions`: rasa-sdk's action server (Sanic) with our actions, on loopback by default.

It uses the same Settings (database, store, encryption key) as `creditbot serve`, migrates the
database the same way, and installs one services bundle for every action (actions/services.py).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from rasa_sdk.endpoint import create_app
from rasa_sdk.executor import ActionExecutor
from sanic import Sanic

from actions import services as action_services
from backend.migrate import upgrade_async
from backend.services import build_services
from backend.settings import Settings
from bot.signals import stop_on_signals

logger = logging.getLogger(__name__)

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 5055  # Rasa's default action endpoint port
ACTIONS_PACKAGE = "actions"


def build_executor() -> ActionExecutor:
    executor = ActionExecutor()
    executor.register_package(ACTIONS_PACKAGE)
    return executor


def build_app(executor: ActionExecutor | None = None) -> Sanic[Any, Any]:
    """rasa-sdk's own app (`/webhook`, `/actions`, `/health`) without CORS: Rasa calls it server to server."""
    app: Sanic[Any, Any] = create_app(executor or build_executor(), cors_origins=[])
    return app


async def serve_actions(settings: Settings, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT,
                        ready: asyncio.Event | None = None) -> None:
    await upgrade_async(settings.database_url)
    services = build_services(settings)
    action_services.install(services)
    app = build_app()
    server = await app.create_server(host=host, port=port, access_log=False)
    if server is None:
        raise RuntimeError(f"the action server could not listen on {host}:{port}")
    stop = asyncio.Event()
    stop_on_signals(stop)
    try:
        await server.startup()  # type: ignore[no-untyped-call]
        await server.start_serving()  # type: ignore[no-untyped-call]
        print(f"creditbot actions on http://{host}:{port}/webhook  (env={settings.env})", flush=True)
        if ready:
            ready.set()
        await stop.wait()
    finally:
        await _shutdown(app, server)
        await services.close()
        action_services.uninstall()


async def _shutdown(app: Sanic[Any, Any], server: object) -> None:
    closing = server.close()  # type: ignore[attr-defined]
    if closing is not None:
        await closing
    Sanic.unregister_app(app)  # so a later start in this process may build the app again
