"""One-time SMS codes: single use, short-lived, limited wrong tries, limited resends (B36)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

from backend.clock import Clock
from backend.crypto import codes_equal, digest_code
from backend.errors import (
    CodeExhaustedError,
    CodeExpiredError,
    CodeMismatchError,
    CodeNotIssuedError,
    ResendTooSoonError,
)
from backend.kv import KeyValueStore

CODE_LENGTH = 6


@dataclass(frozen=True)
class CodePolicy:
    ttl_seconds: int = 300
    max_failures: int = 5
    resend_seconds: int = 60


def build_code() -> str:
    return f"{secrets.randbelow(10**CODE_LENGTH):0{CODE_LENGTH}d}"


class CodeService:
    """Counters are keyed by the phone's lookup hash, never by chat or IP, so they cannot be dodged."""

    def __init__(self, store: KeyValueStore, clock: Clock, policy: CodePolicy | None = None) -> None:
        self._store = store
        self._clock = clock
        self.policy = policy or CodePolicy()

    async def issue(self, purpose: str, subject: str) -> str:
        """Make a new code; raises ResendTooSoonError without touching the active code."""
        guard = f"code-guard:{purpose}:{subject}"
        if not await self._store.add(guard, 1, ttl=self.policy.resend_seconds):
            left = await self._store.ttl(guard) or 1
            raise ResendTooSoonError(max(1, int(left + 0.999)))
        code, salt = build_code(), secrets.token_hex(8)
        record = {"digest": digest_code(code, salt), "salt": salt, "failures": 0,
                  "expires": self._clock.now().timestamp() + self.policy.ttl_seconds}
        # Kept a while past expiry so a late answer is told "expired", not "never sent".
        await self._store.set(self._key(purpose, subject), record, ttl=self.policy.ttl_seconds + 3600)
        return code

    async def verify(self, purpose: str, subject: str, code: str) -> None:
        key = self._key(purpose, subject)
        record = await self._store.get(key)
        if record is None:
            raise CodeNotIssuedError
        if record["failures"] >= self.policy.max_failures:
            raise CodeExhaustedError
        if record["expires"] <= self._clock.now().timestamp():
            await self._store.delete(key)
            raise CodeExpiredError
        if codes_equal(digest_code(code, record["salt"]), record["digest"]):
            # Used up: the next operation may send a fresh code at once; the guard protects live codes only.
            await self._store.delete(key)
            await self._store.delete(f"code-guard:{purpose}:{subject}")
            return
        await self._fail(key, record)

    async def _fail(self, key: str, record: dict[str, object]) -> None:
        failures = int(record["failures"]) + 1  # type: ignore[call-overload]
        remaining = self.policy.max_failures - failures
        if remaining <= 0:
            await self._store.delete(key)
            raise CodeExhaustedError
        await self._store.set(key, {**record, "failures": failures}, ttl=self.policy.ttl_seconds + 3600)
        raise CodeMismatchError(f"{remaining} left", remaining=remaining)

    async def cancel(self, purpose: str, subject: str) -> None:
        await self._store.delete(self._key(purpose, subject))

    async def seconds_until_resend(self, purpose: str, subject: str) -> int:
        left = await self._store.ttl(f"code-guard:{purpose}:{subject}")
        return 0 if left is None else int(left + 0.999)

    @staticmethod
    def _key(purpose: str, subject: str) -> str:
        return f"code:{purpose}:{subject}"


def expires_at(issued: datetime, policy: CodePolicy) -> float:
    return issued.timestamp() + policy.ttl_seconds
