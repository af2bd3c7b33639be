"""Baseline: a bare python-telegram-bot echo bot against the fake Bot API.

Measures turns per second, where a turn is "a user message goes in" ->
"the bot's sendMessage to that chat is recorded by the fake".  Every chat
talks sequentially (next message only after the reply), all chats at once.

Run::

    .venv/bin/python bench/bench_echo_baseline.py                # 200 chats x 5, delays 0 and 50 ms
    .venv/bin/python bench/bench_echo_baseline.py --chats 50 --per-chat 20 --delays 0,0.02

Reuse the driver for another bot (the fake and the bot must run in this loop)::

    sys.path[:0] = ["bench", "tests"]
    from bench_echo_baseline import drive, drive_detailed
    from fakebotapi import FakeBotApi
    turns_per_s = await drive(fake, chats=200, per_chat=5, timeout=120)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shlex
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from fakebotapi import FakeBotApi  # noqa: E402

FIRST_CHAT_ID = 700_000_001


@dataclass
class DriveResult:
    chats: int
    per_chat: int
    turns: int  # completed turns
    elapsed: float  # seconds from the first message in to the last reply out
    latencies: list[float] = field(default_factory=list)  # per completed turn, seconds
    timed_out: bool = False

    @property
    def expected(self) -> int:
        return self.chats * self.per_chat

    @property
    def turns_per_s(self) -> float:
        return self.turns / self.elapsed if self.elapsed > 0 else 0.0

    def latency_ms(self, q: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return 1000 * ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    def summary(self) -> dict[str, float | int | bool]:
        return {
            "chats": self.chats,
            "per_chat": self.per_chat,
            "turns": self.turns,
            "expected": self.expected,
            "elapsed_s": round(self.elapsed, 3),
            "turns_per_s": round(self.turns_per_s, 1),
            "latency_p50_ms": round(self.latency_ms(0.50), 1),
            "latency_p95_ms": round(self.latency_ms(0.95), 1),
            "latency_max_ms": round(1000 * max(self.latencies), 1) if self.latencies else float("nan"),
            "latency_mean_ms": round(1000 * statistics.fmean(self.latencies), 1) if self.latencies else float("nan"),
            "timed_out": self.timed_out,
        }


def _default_text(chat_id: int, turn: int) -> str:
    return f"第{turn}条消息 from {chat_id}"


async def drive_detailed(
    fake: FakeBotApi,
    chats: int = 200,
    per_chat: int = 5,
    timeout: float = 120.0,
    *,
    first_chat_id: int = FIRST_CHAT_ID,
    text: Callable[[int, int], str] = _default_text,
    reply_methods: Sequence[str] = ("sendMessage",),
) -> DriveResult:
    """``chats`` users talk at once, each sending ``per_chat`` messages one
    after the other; a turn ends when a new successful call of one of
    ``reply_methods`` to that chat is recorded.  Never raises on timeout:
    look at ``timed_out`` / ``turns``."""
    result = DriveResult(chats=chats, per_chat=per_chat, turns=0, elapsed=0.0)
    started = time.monotonic()
    deadline = started + timeout
    last_reply = started

    def replies(chat_id: int) -> int:
        return sum(fake.count_calls(m, chat_id, ok_only=True) for m in reply_methods)

    async def one_chat(chat_id: int) -> None:
        nonlocal last_reply
        for turn in range(per_chat):
            target = replies(chat_id) + 1
            sent_at = time.monotonic()
            fake.user_message(chat_id, text(chat_id, turn))
            await fake.wait_for(
                lambda: replies(chat_id) >= target,
                timeout=max(0.001, deadline - time.monotonic()),
                chat_id=chat_id,
            )
            now = time.monotonic()
            result.latencies.append(now - sent_at)
            result.turns += 1
            last_reply = max(last_reply, now)

    tasks = [asyncio.create_task(one_chat(first_chat_id + i)) for i in range(chats)]
    done, pending = await asyncio.wait(tasks, timeout=timeout + 1)
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    for task in done:
        if task.exception() is not None:
            if isinstance(task.exception(), TimeoutError):
                result.timed_out = True
            else:
                raise task.exception()  # type: ignore[misc]
    result.timed_out = result.timed_out or bool(pending)
    result.elapsed = (last_reply if result.turns else time.monotonic()) - started
    return result


async def drive(
    fake: FakeBotApi,
    chats: int = 200,
    per_chat: int = 5,
    timeout: float = 120.0,
    **kwargs,
) -> float:
    """Turns per second; raises TimeoutError if not every turn finished."""
    result = await drive_detailed(fake, chats, per_chat, timeout, **kwargs)
    if result.turns < result.expected:
        raise TimeoutError(
            f"only {result.turns}/{result.expected} turns within {timeout}s "
            f"({result.turns_per_s:.1f} turns/s so far)"
        )
    return result.turns_per_s


# --------------------------------------------------------------------------- the baseline bot


def build_echo_app(fake: FakeBotApi, pool_size: int = 256):
    from telegram import Update
    from telegram.ext import ApplicationBuilder, ContextTypes, MessageHandler, filters
    from telegram.request import HTTPXRequest

    async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await update.effective_message.reply_text(update.effective_message.text)

    app = (
        ApplicationBuilder()
        .token(fake.token)
        .base_url(fake.base_url)
        .base_file_url(fake.base_file_url)
        .concurrent_updates(True)
        .request(HTTPXRequest(connection_pool_size=pool_size, pool_timeout=30, read_timeout=30))
        .get_updates_request(HTTPXRequest(connection_pool_size=2, read_timeout=30))
        .build()
    )
    app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, echo))
    return app


async def run_one(delay: float, chats: int, per_chat: int, timeout: float, pool_size: int) -> dict:
    fake = FakeBotApi(delay=delay)
    await fake.start()
    app = build_echo_app(fake, pool_size)
    try:
        await app.initialize()
        await app.start()
        await app.updater.start_polling(poll_interval=0, timeout=10)
        # Warm-up: connections, handler caches.
        await drive(fake, chats=1, per_chat=2, timeout=30, first_chat_id=1)
        polls_before = fake.count_calls("getUpdates")
        calls_before = len(fake.calls)
        result = await drive_detailed(fake, chats, per_chat, timeout)
        summary = result.summary()
        polls = fake.count_calls("getUpdates") - polls_before
        summary.update(
            delay_ms=round(delay * 1000, 1),
            getUpdates_calls=polls,
            updates_per_poll=round(result.turns / polls, 1) if polls else None,
            api_calls=len(fake.calls) - calls_before,
        )
        return summary
    finally:
        await app.updater.stop()
        await app.stop()
        await app.shutdown()
        await fake.stop()


def _versions() -> dict[str, str]:
    import httpx
    import starlette
    import telegram
    import uvicorn

    return {
        "python": platform.python_version(),
        "python-telegram-bot": telegram.__version__,
        "httpx": httpx.__version__,
        "starlette": starlette.__version__,
        "uvicorn": uvicorn.__version__,
        "cpus": str(os.cpu_count()),
        "platform": platform.platform(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--chats", type=int, default=200)
    parser.add_argument("--per-chat", type=int, default=5)
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds per configuration")
    parser.add_argument("--delays", default="0,0.05", help="comma-separated seconds of fake API latency")
    parser.add_argument("--pool-size", type=int, default=256, help="PTB HTTPXRequest connection pool")
    args = parser.parse_args(argv)
    delays = [float(d) for d in args.delays.split(",") if d.strip()]

    print("command:", shlex.join([sys.executable, *sys.argv]))
    config = {
        "chats": args.chats,
        "per_chat": args.per_chat,
        "timeout_s": args.timeout,
        "delays_s": delays,
        "pool_size": args.pool_size,
        "concurrent_updates": True,
        "polling": "getUpdates long poll, timeout=10, poll_interval=0",
        "bot": "bare PTB Application, MessageHandler(TEXT) -> reply_text(same text)",
        "fake": "tests/fakebotapi.py, uvicorn+starlette in the same asyncio loop",
        **_versions(),
    }
    print("config:", json.dumps(config, ensure_ascii=False))

    failed = False
    header = f"{'delay':>8} {'turns':>11} {'elapsed s':>10} {'turns/s':>9} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} {'polls':>6} {'upd/poll':>8}"
    print(header)
    for delay in delays:
        summary = asyncio.run(run_one(delay, args.chats, args.per_chat, args.timeout, args.pool_size))
        failed |= bool(summary["timed_out"]) or summary["turns"] < summary["expected"]
        print(
            f"{summary['delay_ms']:>6.0f}ms {summary['turns']:>5}/{summary['expected']:<5} "
            f"{summary['elapsed_s']:>10.2f} {summary['turns_per_s']:>9.1f} {summary['latency_p50_ms']:>8.1f} "
            f"{summary['latency_p95_ms']:>8.1f} {summary['latency_max_ms']:>8.1f} {summary['getUpdates_calls']:>6} "
            f"{summary['updates_per_poll']!s:>8}"
        )
        print("RESULT", json.dumps(summary), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
