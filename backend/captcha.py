"""Image captchas: a PNG to show and a single-use answer kept in the store."""

from __future__ import annotations

import asyncio
import secrets

from captcha.image import ImageCaptcha

from backend.kv import KeyValueStore

# Only characters that stay distinct when warped: none of 0/O/Q/D-like rounds (0, O, Q, G, 6),
# 1/I/L/7/T, 2/Z, 5/S, 8/B, U/V, so nobody gets locked out for misreading one (19 left: 19**4 ≈ 130,000,
# and each image is single use).
ALPHABET = "349ACDEFHJKMNPRUWXY"
CONFUSABLE = "0OQG6" "1IL7T" "2Z" "5S" "8B" "V"
LENGTH = 4
TTL_SECONDS = 300
WIDTH, HEIGHT = 200, 72  # px: large enough to read on a phone, small enough for a chat bubble
FONT_SIZES = (46, 52, 58)
BACKGROUND = (250, 250, 247)


def build_answer() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))


def build_ink() -> tuple[int, int, int, int]:
    """A dark, opaque text colour: the library's default may be as light as grey 200 on white."""
    return (20 + secrets.randbelow(60), 20 + secrets.randbelow(60), 60 + secrets.randbelow(80), 255)


class ClearCaptcha(ImageCaptcha):
    # The library pastes each glyph through a mask made from the glyph's own brightness, so a dark
    # ink would come out faint: any ink at all is opaque here (edges still fade), whatever its colour.
    lookup_table = [min(255, i * 12) for i in range(256)]
    character_rotate = (-20, 20)
    word_offset_dx = 0.1  # less overlap between neighbours


def render_png(answer: str) -> bytes:
    image = ClearCaptcha(width=WIDTH, height=HEIGHT, font_sizes=FONT_SIZES)
    return image.generate(answer, format="png", bg_color=BACKGROUND, fg_color=build_ink()).getvalue()


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
