"""Intent recognition through a Rasa NLU server (`POST /model/parse`), with our keyword recogniser behind it.

The engine calls the recogniser for free text only (no question open). Rasa's answer is used when
its top intent is one the engine knows (directly or through `ALIASES`) with at least `threshold`
confidence; when the server is down, slow, answers garbage, or is unsure, the built-in recogniser
(dialogs.intents.recognise) decides, so a Rasa outage never takes the chat down.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import httpx

from dialogs.intents import INTENT_KEYWORDS, Intent, recognise

logger = logging.getLogger(__name__)

DEFAULT_THRESHOLD = 0.6
DEFAULT_TIMEOUT_SECONDS = 1.5
# Intents of the assistant in data/rasa that the engine knows under another name.
ALIASES = {"greet": "menu", "fetch_result": "my_requests"}
ENGINE_INTENTS = frozenset(name for name, _ in INTENT_KEYWORDS)

Fallback = Callable[[str], Intent | None]


class RasaNluRecogniser:
    """An async `(text) -> Intent | None` for `Engine(recogniser=...)`."""

    def __init__(self, url: str, *, threshold: float = DEFAULT_THRESHOLD,
                 timeout: float = DEFAULT_TIMEOUT_SECONDS, client: httpx.AsyncClient | None = None,
                 fallback: Fallback = recognise) -> None:
        self.parse_url = url.rstrip("/") + "/model/parse"
        self.threshold = threshold
        self._client = client or httpx.AsyncClient(timeout=timeout)
        self._fallback = fallback
        self._down = False

    async def __call__(self, text: str) -> Intent | None:
        parsed = await self._parse(text)
        intent = None if parsed is None else self.pick(parsed)
        return intent if intent is not None else self._fallback(text)

    def pick(self, parsed: dict[str, Any]) -> Intent | None:
        """Rasa's top intent as the engine's, or None when it is unknown here or not confident enough."""
        top = parsed.get("intent") or {}
        name = ALIASES.get(str(top.get("name")), str(top.get("name")))
        try:
            confidence = float(top.get("confidence") or 0.0)
        except (TypeError, ValueError):
            return None
        if name not in ENGINE_INTENTS or confidence < self.threshold:
            return None
        return Intent(name, confidence)

    async def _parse(self, text: str) -> dict[str, Any] | None:
        try:
            response = await self._client.post(self.parse_url, json={"text": text})
            response.raise_for_status()
            body = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            self._note_down(exc)
            return None
        if self._down:
            logger.info("Rasa NLU at %s answers again", self.parse_url)
            self._down = False
        return body if isinstance(body, dict) else None

    def _note_down(self, exc: Exception) -> None:
        # Once per outage, not once per message: the fallback keeps the chat working meanwhile.
        if not self._down:
            logger.warning("Rasa NLU at %s failed (%s); using the built-in recogniser", self.parse_url,
                           type(exc).__name__)
        self._down = True

    async def aclose(self) -> None:
        await self._client.aclose()


def build_rasa_recogniser(url: str, threshold: float = DEFAULT_THRESHOLD,
                          timeout: float = DEFAULT_TIMEOUT_SECONDS) -> RasaNluRecogniser:
    """For bot/wiring.py: `Engine(..., recogniser=build_rasa_recogniser(settings.rasa_nlu_url))`."""
    return RasaNluRecogniser(url, threshold=threshold, timeout=timeout)
