"""The `creditbot` command line: options people look for in --help, and what it tells them."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from procs import REPO, ServerProcess, free_port

from bot.__main__ import _parser


def test_serve_help_lists_host_and_port(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        _parser().parse_args(["serve", "--help"])
    shown = capsys.readouterr().out
    assert "--host" in shown and "CREDITBOT_HOST" in shown
    assert "--port" in shown and "CREDITBOT_PORT" in shown


def test_serve_options_default_to_the_settings() -> None:
    args = _parser().parse_args(["serve"])
    assert args.host is None and args.port is None  # None: the settings (CREDITBOT_HOST/PORT) decide


@pytest.mark.slow
async def test_serve_port_option_beats_the_environment(tmp_path: Path) -> None:
    env = ServerProcess(tmp_path / "var").env  # CREDITBOT_PORT is set there to another free port
    port = free_port()
    with (tmp_path / "serve.log").open("wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "bot", "serve", "--host", "127.0.0.1", "--port", str(port)],
                                cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        async with httpx.AsyncClient() as client:
            for _ in range(300):
                assert proc.poll() is None, (tmp_path / "serve.log").read_text()
                try:
                    if (await client.get(f"http://127.0.0.1:{port}/health")).status_code == 200:
                        break
                except httpx.TransportError:
                    await asyncio.sleep(0.1)
            else:
                raise AssertionError("serve --port did not listen there")
    finally:
        proc.terminate()
        proc.wait(15)
    assert f"127.0.0.1:{port}" in (tmp_path / "serve.log").read_text()


@pytest.mark.slow
def test_agent_add_points_to_the_servers_address(tmp_path: Path) -> None:
    env = ServerProcess(tmp_path / "var").env
    done = subprocess.run([sys.executable, "-m", "bot", "agent", "add", "--username", "li", "--password-stdin"],
                          input="correct horse battery\n", cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert "/agent on the server's address" in done.stdout
