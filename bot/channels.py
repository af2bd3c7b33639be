"""The channel registry: proactive replies go to the conversation's own channel, or wait in its outbox."""

from __future__ import annotations

import logging
from typing import Any, Protocol

from backend.delivery import Delivery
from backend.outbox import FileStore, Outbox
from dialogs.types import Delete, Document, Image, Reply, Text, Typing

logger = logging.getLogger(__name__)


class Sender(Protocol):
    async def send(self, conversation_id: str, replies: list[Reply]) -> Delivery: ...


class Channels:
    """Conversation ids look like "<channel>:<ref>"; channels without a live sender use the outbox."""

    def __init__(self, fallback: Sender) -> None:
        self._senders: dict[str, Sender] = {}
        self._fallback = fallback

    def register(self, channel: str, sender: Sender) -> None:
        self._senders[channel] = sender

    def sender_for(self, conversation_id: str) -> Sender:
        return self._senders.get(conversation_id.split(":", 1)[0], self._fallback)

    async def send(self, conversation_id: str, replies: list[Reply]) -> Delivery:
        return await self.sender_for(conversation_id).send(conversation_id, replies)


class RestRenderer:
    """Renders replies in Rasa's REST channel format; files become expiring links."""

    def __init__(self, files: FileStore, base_url: str) -> None:
        self._files = files
        self._base = base_url.rstrip("/")

    async def render(self, conversation_id: str, replies: list[Reply]) -> list[dict[str, Any]]:
        recipient = conversation_id.split(":", 1)[-1]
        out = []
        for reply in replies:
            body = await self._one(conversation_id, reply)
            if body is not None:
                out.append({"recipient_id": recipient, **body})
        return out

    async def _one(self, conversation_id: str, reply: Reply) -> dict[str, Any] | None:
        if isinstance(reply, Text):
            body: dict[str, Any] = {"text": reply.text}
            if reply.buttons:
                body["buttons"] = [{"title": b.title, "payload": b.payload} for b in reply.buttons]
            custom = {**({"input": "secret"} if reply.secret_input else {}),
                      **({"agent": reply.agent} if reply.agent else {})}
            if custom:
                body["custom"] = custom
            return body
        if isinstance(reply, Image):
            url = await self._link(conversation_id, "captcha.png", "image/png", reply.png)
            return {"image": url, **({"text": reply.caption} if reply.caption else {})}
        if isinstance(reply, Document):
            url = await self._link(conversation_id, reply.filename, reply.mime, reply.data)
            attachment = {"type": "file", "url": url, "filename": reply.filename, "mime": reply.mime}
            return {"attachment": attachment, **({"text": reply.caption} if reply.caption else {})}
        if isinstance(reply, Delete | Typing):
            return None
        raise TypeError(type(reply).__name__)

    async def _link(self, conversation_id: str, filename: str, mime: str, data: bytes) -> str:
        token = await self._files.put(conversation_id, filename, mime, data)
        return f"{self._base}/files/{token}"


class OutboxSender:
    """Keeps proactive messages until the conversation's client collects them."""

    def __init__(self, outbox: Outbox, renderer: RestRenderer) -> None:
        self._outbox, self._renderer = outbox, renderer

    async def send(self, conversation_id: str, replies: list[Reply]) -> Delivery:
        await self._outbox.put(conversation_id, await self._renderer.render(conversation_id, replies))
        return Delivery("sent")
