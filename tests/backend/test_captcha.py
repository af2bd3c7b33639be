"""Captcha answers use only characters people do not confuse, drawn dark on light at a readable size."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from backend.captcha import ALPHABET, CONFUSABLE, HEIGHT, WIDTH, CaptchaService, build_answer, render_png
from backend.kv import MemoryKeyValueStore


def _luminance(rgb: tuple[int, ...]) -> float:
    def channel(c: int) -> float:
        c8 = c / 255
        return c8 / 12.92 if c8 <= 0.03928 else ((c8 + 0.055) / 1.055) ** 2.4
    r, g, b = (channel(c) for c in rgb[:3])
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def test_alphabet_has_no_confusable_characters() -> None:
    assert not set(ALPHABET) & set(CONFUSABLE)
    assert len(set(ALPHABET)) == len(ALPHABET) >= 16


@pytest.mark.parametrize("n", range(20))
def test_answers_come_from_the_alphabet(n: int) -> None:
    assert set(build_answer()) <= set(ALPHABET)


@pytest.mark.parametrize("n", range(5))
def test_image_is_readable_size_and_contrast(n: int) -> None:
    image = Image.open(io.BytesIO(render_png(build_answer()))).convert("RGB")
    assert image.size == (WIDTH, HEIGHT) and WIDTH >= 180 and HEIGHT >= 64
    raw = image.tobytes()
    levels = sorted(_luminance(tuple(raw[i:i + 3])) for i in range(0, len(raw), 3))
    background, ink = levels[len(levels) // 2], levels[len(levels) // 50]  # the median and the darkest 2 %
    assert (background + 0.05) / (ink + 0.05) >= 7  # WCAG AAA contrast for the text strokes


async def test_test_answer_still_accepted_and_answers_are_single_use() -> None:
    service = CaptchaService(MemoryKeyValueStore(), test_answer="TEST")
    await service.new("someone")
    assert await service.check("someone", "test")
    await service.new("someone")
    assert not await service.check("someone", "0000")
