"""Flow transcripts run on an app whose key-value store follows the test clock (see tests/flowkit.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from flowkit import build_clocked_app

from backend.clock import FixedClock
from backend.migrate import upgrade_async
from backend.settings import Settings
from bot.wiring import App


@pytest.fixture
async def app(settings: Settings, clock: FixedClock) -> AsyncIterator[App]:
    await upgrade_async(settings.database_url)
    built = build_clocked_app(settings, clock)
    yield built
    await built.close()
