"""The dispatcher: claims due requests from the database and hands each to a notifier, once."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal

from backend.queries import QueryService, RequestView

logger = logging.getLogger(__name__)

Outcome = Literal["sent", "blocked", "retry"]


@dataclass(frozen=True)
class Delivery:
    outcome: Outcome
    retry_after: float = 0.0
    note: str = ""


Notifier = Callable[[RequestView], Awaitable[Delivery]]


class Dispatcher:
    """Work lives in the database, not in memory, so a restart loses nothing (B42)."""

    def __init__(self, queries: QueryService, notify: Notifier, interval: float = 1.0, batch: int = 50,
                 sweepers: tuple[Callable[[], Awaitable[int]], ...] = (), only: tuple[str, ...] = (),
                 skip: tuple[str, ...] = ()) -> None:
        """`only`/`skip`: channels whose requests this process claims, or leaves to another process."""
        self._queries, self._notify = queries, notify
        self._interval, self._batch = interval, batch
        self._sweepers = sweepers
        self._only, self._skip = only, skip
        self._stop = asyncio.Event()

    async def run_once(self) -> int:
        """Burst mode: deliver everything due now and return how many were handled."""
        handled = 0
        while due := await self._queries.claim_due(self._batch, only=self._only, skip=self._skip):
            await asyncio.gather(*(self._deliver(view) for view in due))
            handled += len(due)
        await self._queries.expire_old()
        for sweep in self._sweepers:
            await sweep()
        return handled

    async def _deliver(self, view: RequestView) -> None:
        try:
            result = await self._notify(view)
        except Exception:  # noqa: BLE001 - one failing chat must not stop the others (B12)
            logger.exception("delivery of request %s failed; will retry", view.id)
            result = Delivery("retry", retry_after=60)
        await self._record(view, result)

    async def _record(self, view: RequestView, result: Delivery) -> None:
        if result.outcome == "sent":
            await self._queries.mark_notified(view.id)
        elif result.outcome == "blocked":
            logger.info("request %s: chat unreachable (%s)", view.id, result.note)
            await self._queries.mark_blocked(view.id, result.note)
        else:
            await self._queries.retry_later(view.id, max(1.0, result.retry_after))

    async def run_forever(self) -> None:
        while not self._stop.is_set():
            try:
                await self.run_once()
            except Exception:  # noqa: BLE001 - the loop must outlive a database hiccup
                logger.exception("dispatcher pass failed")
            try:
                await asyncio.wait_for(self._stop.wait(), timeout=self._interval)
            except TimeoutError:
                pass

    def stop(self) -> None:
        self._stop.set()
