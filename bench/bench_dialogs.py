"""Dialog-manager turns per second (in-process state and Redis), and Redis bytes per idle conversation.

Run::

    .venv/bin/python bench/bench_dialogs.py [--conversations 200] [--redis redis://127.0.0.1:6379/15]

A "turn" is one Engine.handle call; each conversation walks the first registration questions
(name, ID type, ID number, captcha), which read and write state, validate, and call the backend.
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
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from fakes import CAPTCHA, make_settings  # noqa: E402

from backend.identity_rules import make_test_id  # noqa: E402
from backend.kv import KeyValueStore, MemoryKeyValueStore, RedisKeyValueStore  # noqa: E402
from backend.migrate import upgrade_async  # noqa: E402
from backend.services import build_services  # noqa: E402
from dialogs.engine import Engine  # noqa: E402
from dialogs.registry import flows_by_id  # noqa: E402
from dialogs.types import Turn  # noqa: E402

SCRIPT = ("注册", "王小明", "/id_type:0", None, CAPTCHA, "/menu")


async def run_turns(engine: Engine, conversations: int) -> tuple[int, float]:
    async def one(i: int) -> int:
        cid = f"bench:{i}"
        for step in SCRIPT:
            text = step or make_test_id(seq=f"{i % 1000:03d}")
            await engine.handle(Turn("bench", cid, text, kind="button" if text.startswith("/") else "text"))
        return len(SCRIPT)

    start = time.perf_counter()
    done = sum(await asyncio.gather(*(one(i) for i in range(conversations))))
    return done, time.perf_counter() - start


async def measure(kv: KeyValueStore, conversations: int, tmp: Path) -> float:
    settings = make_settings(tmp)
    await upgrade_async(settings.database_url)
    services = build_services(settings, kv=kv)
    engine = Engine(services, flows_by_id(), kv)
    await run_turns(engine, 10)  # warm-up: imports, font, first queries
    turns, elapsed = await run_turns(engine, conversations)
    await services.db.close()
    return turns / elapsed


async def redis_bytes_per_idle(url: str, conversations: int, tmp: Path) -> float:
    kv = RedisKeyValueStore.from_url(url, prefix="bench:")
    await kv.client.flushdb()
    settings = make_settings(tmp)
    await upgrade_async(settings.database_url)
    services = build_services(settings, kv=kv)
    engine = Engine(services, flows_by_id(), kv)
    for i in range(conversations):
        await engine.handle(Turn("bench", f"bench:idle:{i}", "/start", kind="button"))
    keys = [k async for k in kv.client.scan_iter("bench:conv:bench:idle:*")]
    usage = [await kv.client.memory_usage(k) or 0 for k in keys]
    await kv.client.flushdb()
    await kv.close()
    return sum(usage) / max(1, len(usage))


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--conversations", type=int, default=200)
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/15")
    args = parser.parse_args()
    print("$", shlex.join([sys.executable, *sys.argv]))
    with tempfile.TemporaryDirectory() as tmp:
        memory = await measure(MemoryKeyValueStore(), args.conversations, Path(tmp) / "m")
        results = {"dialog_turns_per_s_memory": round(memory, 1)}
        try:
            redis_kv = RedisKeyValueStore.from_url(args.redis, prefix="bench:")
            await redis_kv.client.flushdb()
            results["dialog_turns_per_s_redis"] = round(await measure(redis_kv, args.conversations,
                                                                      Path(tmp) / "r"), 1)
            results["redis_bytes_per_idle_conversation"] = round(
                await redis_bytes_per_idle(args.redis, 100, Path(tmp) / "i"), 1)
        except OSError as exc:
            results["redis"] = f"unavailable: {exc}"
    results["ratio_redis_to_memory"] = round(results.get("dialog_turns_per_s_redis", 0) / memory, 2)
    results["target_redis_bytes_per_idle_at_most"] = 1024
    for key, value in results.items():
        print(f"{key:40s} {value}")
    print("RESULT", json.dumps(results))


if __name__ == "__main__":
    asyncio.run(main())
