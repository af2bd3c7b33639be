"""Runs `creditbot serve` as a real process for end-to-end tests, on a free loopback port."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from fakes import CAPTCHA, ENCRYPTION_KEY

REPO = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ServerProcess:
    def __init__(self, var_dir: Path, port: int | None = None, **env: Any) -> None:
        self.port = port or free_port()
        self.var_dir = var_dir
        self.env = {**os.environ, "CREDITBOT_ENV": "sandbox", "CREDITBOT_VAR_DIR": str(var_dir),
                    "CREDITBOT_PORT": str(self.port), "CREDITBOT_ENCRYPTION_KEY": ENCRYPTION_KEY,
                    "CREDITBOT_CAPTCHA_TEST_ANSWER": CAPTCHA, "CREDITBOT_REPORT_DELAY": "3",
                    "CREDITBOT_DISPATCH_INTERVAL": "0.2", **{k: str(v) for k, v in env.items()}}
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = var_dir / f"serve-{self.port}.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self, timeout: float = 30) -> None:
        self.var_dir.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen([sys.executable, "-m", "bot", "serve"], cwd=REPO, env=self.env,
                                         stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        async with httpx.AsyncClient() as client:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"server exited: {self.log.read_text()[-2000:]}")
                try:
                    if (await client.get(f"{self.url}/health")).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)
        self.stop(signal.SIGKILL)  # never leave a half-started server behind
        raise TimeoutError(f"server did not start: {self.log.read_text()[-2000:]}")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(sig)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)

    async def astop(self, sig: int = signal.SIGTERM, timeout: float = 15) -> None:
        """stop() without blocking the loop, so fakes served by this loop can still answer."""
        await asyncio.to_thread(self.stop, sig, timeout)

    def __del__(self) -> None:
        # A test that failed between start() and its finally still must not leak a server.
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""
