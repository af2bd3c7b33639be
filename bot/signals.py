"""Stopping a long-running command cleanly on SIGINT/SIGTERM."""

from __future__ import annotations

import asyncio
import signal


def stop_on_signals(stop: asyncio.Event) -> None:
    """Sets `stop` on SIGINT/SIGTERM. Not a stub: loops outside the main thread (tests) or on
    platforms without signal support refuse a handler, and then the caller's own stop applies."""
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError):
            continue
