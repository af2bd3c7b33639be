"""The composition root: builds stores, services, the engine, channels and the dispatcher from Settings."""

from __future__ import annotations

import logging
from datetime import timedelta
from dataclasses import dataclass, field
from typing import Any

from backend.clock import Clock
from backend.delivery import Delivery, Dispatcher
from backend.kv import KeyValueStore
from backend.queries import RequestView
from backend.services import Services, build_services
from backend.settings import Settings
from bot.channels import Channels, OutboxSender, RestRenderer
from bot.rasa_nlu import build_rasa_recogniser
from bot.sms_inbound import SmsSender
from bot.webchat import build_web_sender
from dialogs.engine import Engine
from dialogs.notifications import build_result_ready
from dialogs.registry import flows_by_id

logger = logging.getLogger(__name__)

HANDOFF_RETRY_SECONDS = 30
PURGE_EVERY = 600  # seconds between sweeps for expired transcripts and web chat logs


@dataclass
class App:
    settings: Settings
    services: Services
    engine: Engine
    channels: Channels
    renderer: RestRenderer
    dispatcher: Dispatcher
    extras: dict[str, Any] = field(default_factory=dict)

    async def close(self) -> None:
        self.dispatcher.stop()
        recogniser = self.extras.get("recogniser")
        if recogniser is not None:
            await recogniser.aclose()
        await self.services.close()


def build(settings: Settings, clock: Clock | None = None, kv: KeyValueStore | None = None,
          channels_only: tuple[str, ...] = (), channels_skip: tuple[str, ...] = ("cli",)) -> App:
    """`channels_only`/`channels_skip`: whose results this process delivers. A terminal chat
    delivers its own ("cli"); the server leaves those to it, since their state is in that process."""
    services = build_services(settings, clock=clock, kv=kv)
    recogniser = build_rasa_recogniser(settings.rasa_nlu_url) if settings.rasa_nlu_url else None
    engine = Engine(services, flows_by_id(), services.kv, recogniser=recogniser)
    renderer = RestRenderer(services.files, settings.base_url)
    channels = Channels(OutboxSender(services.outbox, renderer))
    channels.register("sms", SmsSender(services))
    channels.register("web", build_web_sender(services.outbox, services.bus, services.files))

    async def notify(request: RequestView) -> Delivery:
        if request.conversation_id.startswith("sms:"):
            return await channels.send(request.conversation_id, [])  # the SMS sender texts the hint itself
        if await engine.in_handoff(request.conversation_id):
            # The bot stays silent while an agent has the conversation; the result waits for it.
            return Delivery("retry", retry_after=HANDOFF_RETRY_SECONDS, note="with an agent")
        replies = await build_result_ready(engine, request)
        return await channels.send(request.conversation_id, replies)

    async def expire_flows() -> int:
        expired = await services.deadlines.claim_due(only=channels_only, skip=channels_skip)
        for conversation_id in expired:
            replies = await engine.expire(conversation_id)
            if replies:
                await channels.send(conversation_id, replies)
        return len(expired)

    async def expire_handoffs() -> int:
        """Nobody claimed in time: the person is told and the bot takes over again."""
        ended = await services.handoffs.time_out_waiting(only=channels_only, skip=channels_skip)
        for view in ended:
            replies = await engine.resume(view.conversation_id, "agent.timeout")
            if replies:
                await channels.send(view.conversation_id, replies)
        return len(ended)

    last_purge = [0.0]

    async def purge_old() -> int:
        """Transcripts and web chat logs past their retention; at most every PURGE_EVERY seconds."""
        now = services.clock.now()
        if now.timestamp() - last_purge[0] < PURGE_EVERY:
            return 0
        last_purge[0] = now.timestamp()
        web_cutoff = now - timedelta(seconds=settings.conversation_ttl_seconds)
        return await services.handoffs.purge() + await services.outbox.purge("web:", web_cutoff)

    dispatcher = Dispatcher(services.queries, notify, interval=settings.dispatch_interval_seconds,
                            sweepers=(expire_flows, expire_handoffs, purge_old),
                            only=channels_only, skip=channels_skip)
    return App(settings, services, engine, channels, renderer, dispatcher, extras={"recogniser": recogniser})
