"""The assistant's files and `creditbot actions` as a real process, shared by the Rasa tests' fixtures."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
from fakes import CAPTCHA, ENCRYPTION_KEY
from procs import free_port
from ruamel.yaml import YAML

REPO = Path(__file__).resolve().parents[2]
RASA_DIR = REPO / "data" / "rasa"


def load_yaml(path: Path) -> Any:
    return YAML(typ="safe", pure=True).load(path.read_text(encoding="utf-8"))


class ActionServer:
    """`creditbot actions --port N` in its own process, sharing a temp database with the test."""

    def __init__(self, var_dir: Path) -> None:
        self.var_dir, self.port = var_dir, free_port()
        self.log = var_dir / "actions.log"
        self.env = {**os.environ, "CREDITBOT_ENV": "sandbox", "CREDITBOT_VAR_DIR": str(var_dir),
                    "CREDITBOT_ENCRYPTION_KEY": ENCRYPTION_KEY, "CREDITBOT_CAPTCHA_TEST_ANSWER": CAPTCHA,
                    "CREDITBOT_REPORT_DELAY": "0", "CREDITBOT_LOG_LEVEL": "WARNING"}
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60) -> None:
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen([sys.executable, "-m", "bot", "actions", "--port", str(self.port)],
                                         cwd=REPO, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"action server exited: {self.output()[-3000:]}")
            try:
                if httpx.get(f"{self.url}/health", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.1)
        raise TimeoutError(f"action server did not start: {self.output()[-3000:]}")

    def stop(self) -> int | None:
        if self.proc is None or self.proc.poll() is not None:
            return None if self.proc is None else self.proc.returncode
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait(5)

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""
