"""Real PostgreSQL and Redis for tests: skipped when absent on a user's machine, required under CI."""

from __future__ import annotations

import os
import secrets
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import urlsplit

import asyncpg
import pytest
import redis.asyncio as aioredis

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def reachable(url: str) -> bool:
    parts = urlsplit(url.replace("+asyncpg", ""))
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 0), timeout=1):
            return True
    except OSError:
        return False


def require(url: str, what: str) -> None:
    if reachable(url):
        return
    if IN_CI:
        pytest.fail(f"{what} at {url} is required under CI but is not reachable")
    pytest.skip(f"{what} not reachable at {url}")


@asynccontextmanager
async def fresh_postgres(base_url: str) -> AsyncIterator[str]:
    """A throwaway database, so tests never see each other's rows."""
    require(base_url, "PostgreSQL")
    plain = base_url.replace("postgresql+asyncpg://", "postgresql://")
    name = f"creditbot_t_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(plain)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    head, _, _ = base_url.rpartition("/")
    try:
        yield f"{head}/{name}"
    finally:
        admin = await asyncpg.connect(plain)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


@asynccontextmanager
async def fresh_redis(url: str) -> AsyncIterator[str]:
    require(url, "Redis")
    client = aioredis.Redis.from_url(url)
    try:
        await client.flushdb()
        yield url
        await client.flushdb()
    finally:
        await client.aclose()
