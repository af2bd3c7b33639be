"""The one place unexpected exceptions are caught: log with the traceback, answer with an apology."""

from __future__ import annotations

import logging

from dialogs.catalog import Translator
from dialogs.engine import Engine
from dialogs.types import Reply, Text, Turn

logger = logging.getLogger(__name__)


async def handle_safely(engine: Engine, turn: Turn) -> list[Reply]:
    """The engine saves state only after a turn succeeds, so a failure leaves the previous state."""
    try:
        return await engine.handle(turn)
    except Exception:  # noqa: BLE001 - the single catch-all, by design
        # The turn's text may carry personal data: log the conversation and kind, never the text.
        logger.exception("turn failed in %s (kind=%s)", turn.conversation_id, turn.kind)
        return [Text(Translator(await _chat_lang(engine, turn))("error.generic"))]


async def _chat_lang(engine: Engine, turn: Turn) -> str:
    """The chat's own language if its state can still be read, else the device's."""
    try:
        return str((await engine.load(turn)).get("lang") or "zh")
    except Exception:  # noqa: BLE001 - the state store may be what failed
        return "en" if (turn.locale or "").startswith("en") else "zh"
