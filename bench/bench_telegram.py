"""Whole Telegram turns per second: the product against a fake Bot API, beside a bare PTB echo bot.

Run::

    .venv/bin/python bench/bench_telegram.py [--chats 200] [--delays 0,0.05] [--pool-size N]

Each of `--chats` chats registers at once (the first five registration steps, typed), one
message after the other; a turn ends when the bot has sent everything that step produces (the
counts are calibrated on one chat first). The echo baseline runs in the same process, against
the same fake, with the same delays, so the ratio is fair on a machine whose speed drifts.
Target: product turns/s >= echo turns/s (ratio >= 1.0).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shlex
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "bench")]

from bench_echo_baseline import run_one as run_echo  # noqa: E402
from fakebotapi import FakeBotApi  # noqa: E402
from fakes import CAPTCHA, ENCRYPTION_KEY  # noqa: E402

from backend.identity_rules import make_test_id  # noqa: E402
from backend.migrate import upgrade_async  # noqa: E402
from backend.settings import Settings  # noqa: E402
from bot.telegram_channel import TelegramChannel  # noqa: E402
from bot.wiring import build  # noqa: E402

FIRST_CHAT = 900_000_001


def steps(i: int) -> list[str]:
    return ["注册", "王小明", "1", make_test_id(seq=f"{i % 1000:03d}"), CAPTCHA]


async def calibrate(fake: FakeBotApi) -> list[int]:
    """How many Bot API sends each step produces, measured on one chat."""
    chat, counts = 1, []
    for step in steps(0):
        before = fake.sent_count(chat)
        fake.user_message(chat, step)
        await fake.wait_sent(chat, before + 1, timeout=30)
        await asyncio.sleep(0.5)  # let the rest of this step's replies arrive
        counts.append(fake.sent_count(chat) - before)
    return counts


async def drive(fake: FakeBotApi, chats: int, counts: list[int], timeout: float) -> tuple[int, float]:
    async def one(i: int) -> int:
        chat, expected = FIRST_CHAT + i, 0
        for step, produced in zip(steps(i), counts, strict=True):
            expected += produced
            fake.user_message(chat, step)
            await fake.wait_sent(chat, expected, timeout=timeout)
        return len(counts)

    start = time.perf_counter()
    done = await asyncio.wait_for(asyncio.gather(*(one(i) for i in range(chats))), timeout)
    return sum(done), time.perf_counter() - start


async def run_product(delay: float, chats: int, pool_size: int, timeout: float) -> float:
    fake = FakeBotApi(delay=delay)
    await fake.start()
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings.from_env({
            "CREDITBOT_VAR_DIR": tmp, "CREDITBOT_ENCRYPTION_KEY": ENCRYPTION_KEY,
            "CREDITBOT_CAPTCHA_TEST_ANSWER": CAPTCHA, "TELEGRAM_BOT_TOKEN": fake.token,
            "TELEGRAM_BASE_URL": fake.root_url, "CREDITBOT_LOG_LEVEL": "WARNING"})
        settings = type(settings)(**{**settings.__dict__, "telegram_pool_size": pool_size})
        await upgrade_async(settings.database_url)
        app = build(settings)
        channel = TelegramChannel(app, settings)
        app.channels.register("telegram", channel)
        await channel.start()
        try:
            counts = await calibrate(fake)
            turns, elapsed = await drive(fake, chats, counts, timeout)
        finally:
            await channel.stop()
            await app.close()
            await fake.stop()
    return turns / elapsed


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--chats", type=int, default=200)
    parser.add_argument("--delays", default="0,0.05")
    parser.add_argument("--pool-size", type=int, default=0, help="0: the product's configured default")
    parser.add_argument("--timeout", type=float, default=300)
    args = parser.parse_args()
    print("$", shlex.join([sys.executable, *sys.argv]))
    pool = args.pool_size or Settings().telegram_pool_size
    results = {}
    for delay in (float(d) for d in args.delays.split(",")):
        product = await run_product(delay, args.chats, pool, args.timeout)
        echo = await run_echo(delay, args.chats, 5, args.timeout, pool)
        echo_tps = float(echo["turns_per_s"]) if isinstance(echo, dict) else float(echo)
        key = f"delay_{int(delay * 1000)}ms"
        results[key] = {"product_turns_per_s": round(product, 1), "echo_turns_per_s": round(echo_tps, 1),
                        "ratio": round(product / echo_tps, 2), "pool_size": pool, "chats": args.chats}
        print(f"{key:14s} product {product:7.1f} turns/s   echo {echo_tps:7.1f} turns/s   "
              f"ratio {product / echo_tps:5.2f}   (pool {pool}, {args.chats} chats)")
    print("RESULT", json.dumps(results))


if __name__ == "__main__":
    asyncio.run(main())
