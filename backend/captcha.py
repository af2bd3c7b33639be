"""Image captchas: a PNG to show and a single-use answer kept in the store."""

from __future__ import annotations

import asyncio
import secrets

from captcha.image import ImageCaptcha

from backend.kv import KeyValueStore

# No 0/O, 1/I/L, 2/Z, 5/S: people misread them and get locked out for no fault of theirs.
ALPHABET = "34678ABCDEFGHJKMNPQRTUVWXY"
LENGTH = 4
TTL_SECONDS = 300


def build_answer() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))


def render_png(answer: str) -> bytes:
    return ImageCaptcha(width=160, height=60).generate(answer, format="png").getvalue()


class CaptchaService:
    def __init__(self, store: KeyValueStore, test_answer: str | None = None) -> None:
        self._store = store
        self._test_answer = test_answer

    async def new(self, owner: str) -> bytes:
        answer = build_answer()
        await self._store.set(f"captcha:{owner}", answer, ttl=TTL_SECONDS)
        return await asyncio.to_thread(render_png, answer)

    async def check(self, owner: str, given: str) -> bool:
        """Single use whatever the outcome, so one image cannot be guessed at repeatedly."""
        answer = await self._store.get(f"captcha:{owner}")
        await self._store.delete(f"captcha:{owner}")
        given = given.strip().upper()
        if self._test_answer and given == self._test_answer.upper():
            return True
        # compare_digest refuses non-ASCII str; compare bytes so any input is just "wrong".
        return answer is not None and secrets.compare_digest(given.encode(), str(answer).encode())
