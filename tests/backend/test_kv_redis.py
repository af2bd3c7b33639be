"""The Redis store under load (B39) and two processes sharing one conversation through it (B05)."""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone
from pathlib import Path

import pytest
from fakes import CAPTCHA, P1, make_settings
from services import fresh_redis

from backend.clock import FixedClock
from backend.kv import RedisKeyValueStore
from backend.migrate import upgrade_async
from bot.wiring import build
from dialogs.catalog import Translator
from dialogs.types import Text, Turn

T = Translator("zh")


async def test_b39_200_operations_through_10_connections_all_succeed(request: pytest.FixtureRequest) -> None:
    async with fresh_redis(request.config.getoption("--redis")) as url:
        kv = RedisKeyValueStore.from_url(url, max_connections=10, prefix="b39:")
        try:
            async def op(i: int) -> object:
                await kv.set(f"session:{i}", {"n": i}, ttl=60)
                await kv.incr(f"rate:{i % 7}", ttl=60)
                await kv.add(f"otp-replay:{i}", 1, ttl=60)
                return await kv.get(f"session:{i}")

            results = await asyncio.wait_for(asyncio.gather(*(op(i) for i in range(200))), timeout=30)
            assert results == [{"n": i} for i in range(200)]
            pool = kv.client.connection_pool
            assert len(pool._get_in_use_connections()) == 0  # every connection went back
            assert len(pool._get_in_use_connections()) + len(pool._get_free_connections()) <= 10
        finally:
            await kv.close()


async def test_b05_two_workers_sharing_redis_behave_as_one(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    """Round-robin between two processes' engines: no step skipped or asked twice."""
    async with fresh_redis(request.config.getoption("--redis")) as url:
        settings = make_settings(tmp_path, REDIS_URL=url)
        await upgrade_async(settings.database_url)
        clock = FixedClock(datetime(2026, 12, 3, 2, 0, tzinfo=timezone.utc))
        worker_a, worker_b = build(settings, clock), build(settings, clock)
        try:
            steps = [("/register", worker_a, "register.name.prompt"), (P1["name"], worker_b, "register.id_type.prompt"),
                     ("/id_type:0", worker_a, "register.id_number.prompt"),
                     (P1["id_number"], worker_b, "register.captcha.prompt")]
            for text, worker, prompt in steps:
                replies = await worker.engine.handle(Turn("rest", "rest:b05", text))
                assert [r.text for r in replies if isinstance(r, Text)][-1] == T(prompt), (text, replies)
            replies = await worker_a.engine.handle(Turn("rest", "rest:b05", CAPTCHA))
            assert "服务协议" in [r.text for r in replies if isinstance(r, Text)][-1]
        finally:
            await worker_a.close()
            await worker_b.close()
