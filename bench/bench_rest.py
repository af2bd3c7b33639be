"""Whole REST turns per second against a running `creditbot serve` (SQLite, in-process state).

Run::

    .venv/bin/python bench/bench_rest.py [--senders 50] [--rounds 2]

Each sender walks the first registration questions over HTTP; a turn is one POST answered.
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

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from fakes import CAPTCHA  # noqa: E402
from procs import ServerProcess  # noqa: E402

from backend.identity_rules import make_test_id  # noqa: E402


async def sender(client: httpx.AsyncClient, url: str, name: str, seq: int) -> int:
    steps = ["注册", "王小明", "/id_type:0", make_test_id(seq=f"{seq % 1000:03d}"), CAPTCHA, "/menu"]
    for step in steps:
        response = await client.post(url, json={"sender": name, "message": step})
        response.raise_for_status()
    return len(steps)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--senders", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    print("$", shlex.join([sys.executable, *sys.argv]))
    with tempfile.TemporaryDirectory() as tmp:
        server = ServerProcess(Path(tmp) / "var", CREDITBOT_LOG_LEVEL="WARNING")
        await server.start()
        try:
            url = f"{server.url}/webhooks/rest/webhook"
            limits = httpx.Limits(max_connections=args.senders)
            async with httpx.AsyncClient(timeout=60, limits=limits) as client:
                await sender(client, url, "warmup", 999)
                start = time.perf_counter()
                turns = 0
                for r in range(args.rounds):
                    done = await asyncio.gather(*(sender(client, url, f"s{r}-{i}", i) for i in range(args.senders)))
                    turns += sum(done)
                elapsed = time.perf_counter() - start
        finally:
            server.stop()
    result = {"rest_turns_per_s": round(turns / elapsed, 1), "turns": turns, "senders": args.senders}
    for key, value in result.items():
        print(f"{key:30s} {value}")
    print("RESULT", json.dumps(result))


if __name__ == "__main__":
    asyncio.run(main())
