"""Fixtures only; the fakes themselves live in tests/fakes.py."""

from __future__ import annotations

import os
import sys
from collections.abc import AsyncIterator
from datetime import datetime, timezone
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fakes import ENCRYPTION_KEY, Chat, make_settings  # noqa: E402

from backend.clock import FixedClock  # noqa: E402
from backend.migrate import upgrade_async  # noqa: E402
from backend.settings import Settings  # noqa: E402
from bot.wiring import App, build  # noqa: E402

REDIS_URL = os.environ.get("CREDITBOT_TEST_REDIS", "redis://127.0.0.1:6379/15")
POSTGRES_URL = os.environ.get("CREDITBOT_TEST_POSTGRES", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--redis", default=REDIS_URL, help="Redis URL for the Redis-backed tests")
    parser.addoption("--postgres", default=POSTGRES_URL, help="PostgreSQL URL for the database tests")


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(datetime(2026, 12, 3, 2, 0, tzinfo=timezone.utc))  # 10:00 CST


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path)


@pytest.fixture
async def app(settings: Settings, clock: FixedClock) -> AsyncIterator[App]:
    await upgrade_async(settings.database_url)
    built = build(settings, clock=clock)
    yield built
    await built.close()


@pytest.fixture
def chat(app: App) -> Chat:
    return Chat(app, "rest:tester")


__all__ = ["ENCRYPTION_KEY"]
