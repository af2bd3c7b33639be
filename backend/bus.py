"""Events between the parts of the product: in-process queues, or Redis pub/sub across processes.

Events are wake-ups and small notices (JSON objects), never the only copy of anything: what must
not be lost (chat messages, the agents' queue) is in the database, and a subscriber that missed an
event reads the database again. So a dropped Redis connection delays a console; it loses nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from typing import Any, Protocol

import redis.asyncio as aioredis

logger = logging.getLogger(__name__)

PREFIX = "creditbot:bus:"
QUEUE_LIMIT = 1000  # events held for a slow subscriber before the oldest are dropped


class Subscription(Protocol):
    def __aiter__(self) -> AsyncIterator[dict[str, Any]]: ...
    async def get(self, timeout: float | None = None) -> dict[str, Any] | None: ...


class Bus(Protocol):
    async def publish(self, topic: str, event: dict[str, Any]) -> None: ...
    def subscribe(self, *topics: str) -> contextlib.AbstractAsyncContextManager[Subscription]: ...
    async def close(self) -> None: ...


class _Queue:
    """One subscriber's events; when it falls behind, the oldest go (it re-reads the database)."""

    def __init__(self) -> None:
        self._queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(QUEUE_LIMIT)

    def put(self, event: dict[str, Any]) -> None:
        if self._queue.full():
            self._queue.get_nowait()
        self._queue.put_nowait(event)

    async def get(self, timeout: float | None = None) -> dict[str, Any] | None:
        try:
            return await asyncio.wait_for(self._queue.get(), timeout)
        except TimeoutError:
            return None

    async def __aiter__(self) -> AsyncIterator[dict[str, Any]]:
        while True:
            yield await self._queue.get()


class MemoryBus:
    """One process: the default when no REDIS_URL is set."""

    def __init__(self) -> None:
        self._subscribers: dict[str, set[_Queue]] = {}

    async def publish(self, topic: str, event: dict[str, Any]) -> None:
        for queue in list(self._subscribers.get(topic, ())):
            queue.put({**event, "topic": topic})

    @contextlib.asynccontextmanager
    async def subscribe(self, *topics: str) -> AsyncIterator[_Queue]:
        queue = _Queue()
        for topic in topics:
            self._subscribers.setdefault(topic, set()).add(queue)
        try:
            yield queue
        finally:
            for topic in topics:
                subscribers = self._subscribers.get(topic)
                if subscribers is not None:
                    subscribers.discard(queue)
                    if not subscribers:
                        del self._subscribers[topic]

    async def close(self) -> None:
        self._subscribers.clear()


class RedisBus:
    """Several processes: each subscription is its own Redis pub/sub connection and reader task."""

    def __init__(self, client: aioredis.Redis) -> None:
        self._redis = client

    @classmethod
    def from_url(cls, url: str) -> RedisBus:
        return cls(aioredis.Redis.from_url(url, decode_responses=True))

    async def publish(self, topic: str, event: dict[str, Any]) -> None:
        try:
            await self._redis.publish(PREFIX + topic, json.dumps({**event, "topic": topic}, ensure_ascii=False))
        except aioredis.RedisError:
            # A lost wake-up only delays a reader, which polls the database anyway.
            logger.warning("bus: publish to %s failed", topic)

    @contextlib.asynccontextmanager
    async def subscribe(self, *topics: str) -> AsyncIterator[_Queue]:
        queue = _Queue()
        pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
        await pubsub.subscribe(*(PREFIX + t for t in topics))
        reader = asyncio.create_task(self._read(pubsub, queue), name="bus-reader")
        try:
            yield queue
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, aioredis.RedisError):
                await reader
            with contextlib.suppress(aioredis.RedisError):
                await pubsub.unsubscribe()
                await pubsub.aclose()

    @staticmethod
    async def _read(pubsub: Any, queue: _Queue) -> None:
        while True:
            try:
                message = await pubsub.get_message(timeout=1.0)
            except aioredis.RedisError:
                logger.warning("bus: subscription lost; retrying")
                await asyncio.sleep(1.0)
                continue
            if message is None or message.get("type") != "message":
                continue
            try:
                event = json.loads(message["data"])
            except ValueError:
                continue
            if isinstance(event, dict):
                queue.put(event)

    async def close(self) -> None:
        await self._redis.aclose()
