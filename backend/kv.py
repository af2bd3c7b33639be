"""A JSON key-value store with TTLs and per-key locks: in memory, or in Redis for several processes."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, Protocol

import redis.asyncio as aioredis

Serializer = Callable[[Any], str]
Deserializer = Callable[[str], Any]


def _compact(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


class KeyValueStore(Protocol):
    async def get(self, key: str) -> Any | None: ...
    async def set(self, key: str, value: Any, ttl: float | None = None) -> None: ...
    async def add(self, key: str, value: Any, ttl: float | None = None) -> bool: ...
    async def delete(self, key: str) -> None: ...
    async def incr(self, key: str, ttl: float, amount: int = 1) -> int: ...
    async def ttl(self, key: str) -> float | None: ...
    def lock(self, key: str, timeout: float = 60.0) -> Any: ...
    async def close(self) -> None: ...


class MemoryKeyValueStore:
    """One process only; values are serialised anyway so both stores behave alike."""

    def __init__(self, time_source: Callable[[], float] = time.monotonic,
                 dumps: Serializer = _compact, loads: Deserializer = json.loads) -> None:
        self._data: dict[str, tuple[str, float | None]] = {}
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}
        self._now = time_source
        self._dumps, self._loads = dumps, loads

    def _live(self, key: str) -> str | None:
        item = self._data.get(key)
        if item is None:
            return None
        raw, expires = item
        if expires is not None and expires <= self._now():
            del self._data[key]
            return None
        return raw

    async def get(self, key: str) -> Any | None:
        raw = self._live(key)
        return None if raw is None else self._loads(raw)

    async def set(self, key: str, value: Any, ttl: float | None = None) -> None:
        self._data[key] = (self._dumps(value), None if ttl is None else self._now() + ttl)

    async def add(self, key: str, value: Any, ttl: float | None = None) -> bool:
        if self._live(key) is not None:
            return False
        await self.set(key, value, ttl)
        return True

    async def delete(self, key: str) -> None:
        self._data.pop(key, None)

    async def incr(self, key: str, ttl: float, amount: int = 1) -> int:
        raw = self._live(key)
        if raw is None:
            await self.set(key, amount, ttl)
            return amount
        value = int(self._loads(raw)) + amount
        self._data[key] = (self._dumps(value), self._data[key][1])
        return value

    async def ttl(self, key: str) -> float | None:
        if self._live(key) is None:
            return None
        expires = self._data[key][1]
        return None if expires is None else max(0.0, expires - self._now())

    @asynccontextmanager
    async def lock(self, key: str, timeout: float = 60.0) -> AsyncIterator[None]:
        # asyncio.Lock wakes waiters in FIFO order, which keeps one chat's turns in arrival order.
        lock, users = self._locks.get(key, (asyncio.Lock(), 0))
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users <= 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)

    def __len__(self) -> int:
        return len(self._data)

    async def close(self) -> None:
        self._data.clear()


class RedisKeyValueStore:
    """Shared by every process; the blocking pool waits for a free connection instead of failing (B39)."""

    def __init__(self, client: aioredis.Redis, prefix: str = "creditbot:",
                 dumps: Serializer = _compact, loads: Deserializer = json.loads) -> None:
        self.client = client
        self._prefix = prefix
        self._dumps, self._loads = dumps, loads

    @classmethod
    def from_url(cls, url: str, max_connections: int = 64, prefix: str = "creditbot:") -> RedisKeyValueStore:
        pool = aioredis.BlockingConnectionPool.from_url(url, max_connections=max_connections, timeout=20,
                                                        decode_responses=True)
        return cls(aioredis.Redis(connection_pool=pool), prefix=prefix)

    def _k(self, key: str) -> str:
        return self._prefix + key

    async def get(self, key: str) -> Any | None:
        raw = await self.client.get(self._k(key))
        return None if raw is None else self._loads(raw)

    async def set(self, key: str, value: Any, ttl: float | None = None) -> None:
        await self.client.set(self._k(key), self._dumps(value), px=_ms(ttl))

    async def add(self, key: str, value: Any, ttl: float | None = None) -> bool:
        return bool(await self.client.set(self._k(key), self._dumps(value), px=_ms(ttl), nx=True))

    async def delete(self, key: str) -> None:
        await self.client.delete(self._k(key))

    async def incr(self, key: str, ttl: float, amount: int = 1) -> int:
        async with self.client.pipeline(transaction=True) as pipe:
            pipe.incrby(self._k(key), amount)
            pipe.pexpire(self._k(key), _ms(ttl), nx=True)
            value, _ = await pipe.execute()
        return int(value)

    async def ttl(self, key: str) -> float | None:
        ms = await self.client.pttl(self._k(key))
        return None if ms < 0 else ms / 1000

    @asynccontextmanager
    async def lock(self, key: str, timeout: float = 60.0) -> AsyncIterator[None]:
        lock = self.client.lock(self._k("lock:" + key), timeout=timeout, blocking_timeout=timeout,
                                sleep=0.005)
        async with lock:
            yield

    async def close(self) -> None:
        await self.client.aclose()


def _ms(ttl: float | None) -> int | None:
    return None if ttl is None else max(1, int(ttl * 1000))
