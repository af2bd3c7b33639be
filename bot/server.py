"""`creditbot serve`: the HTTP server, the dispatcher and, when configured, Telegram, in one process."""

from __future__ import annotations

import asyncio
import logging

import uvicorn

from backend.migrate import upgrade_async
from backend.settings import Settings
from bot.signals import stop_on_signals
from bot.web import build_web
from bot.wiring import App, build

logger = logging.getLogger(__name__)


async def serve(settings: Settings, ready: asyncio.Event | None = None) -> None:
    await upgrade_async(settings.database_url)
    app = build(settings)
    telegram = _telegram(app, settings)
    routes = [telegram.webhook_route()] if telegram and telegram.webhook_mode else []
    # Forwarded headers pick the client address the per-IP limits count: believed only from the
    # proxies named in CREDITBOT_TRUSTED_PROXIES, never by uvicorn's default (anyone on loopback).
    server = uvicorn.Server(uvicorn.Config(build_web(app, routes), host=settings.host, port=settings.port,
                                           log_level="warning", lifespan="off", loop="none",
                                           proxy_headers=bool(settings.trusted_proxies),
                                           forwarded_allow_ips=list(settings.trusted_proxies) or []))
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
    stop = asyncio.Event()
    stop_on_signals(stop)
    tasks = [asyncio.create_task(server.serve(), name="http"),
             asyncio.create_task(app.dispatcher.run_forever(), name="dispatcher")]
    try:
        if telegram:
            await telegram.start()
        await _wait_started(server)
        _announce(settings)
        if ready:
            ready.set()
        await stop.wait()
    finally:
        await _shutdown(app, server, telegram, tasks)


def _telegram(app: App, settings: Settings):  # type: ignore[no-untyped-def]
    if not settings.telegram_token:
        return None
    from bot.telegram_channel import TelegramChannel

    channel = TelegramChannel(app, settings)
    app.channels.register("telegram", channel)
    return channel


async def _wait_started(server: uvicorn.Server) -> None:
    for _ in range(500):
        if server.started:
            return
        await asyncio.sleep(0.01)
    raise RuntimeError(f"HTTP server did not start on port {server.config.port}")


def _announce(settings: Settings) -> None:
    delay = settings.report_delay_seconds
    print(f"creditbot is serving on {settings.base_url}  (env={settings.env})", flush=True)
    print(f"  results are ready {delay} s after a request (CREDITBOT_REPORT_DELAY overrides)", flush=True)
    print("  REST: POST /webhooks/rest/webhook  {\"sender\": \"me\", \"message\": \"注册\"}", flush=True)
    print("  chat in a terminal: make chat   (or .venv/bin/creditbot chat)", flush=True)


async def _shutdown(app: App, server: uvicorn.Server, telegram: object, tasks: list[asyncio.Task[object]]) -> None:
    app.dispatcher.stop()
    server.should_exit = True
    if telegram is not None:
        await telegram.stop()  # type: ignore[attr-defined]
    await asyncio.gather(*tasks, return_exceptions=True)
    await app.close()
