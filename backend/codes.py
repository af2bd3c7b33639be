"""One-time SMS codes: single use, short-lived, limited wrong tries, limited resends (B36)."""

from __future__ import annotations

import re
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
from backend.identity_rules import clean_text
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
    """Counters are keyed by the phone's lookup hash, never by chat or IP, so they cannot be dodged.

    Each issued code has its own failure counter (an atomic increment, so guesses sent at once from
    several chats are all counted) and its own "used" marker (so it is accepted once, even when two
    chats send it at the same moment). After the last allowed failure the record stays as a
    tombstone until it expires: the right code is then refused as "exhausted", never accepted.
    """

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
        record = {"digest": digest_code(code, salt), "salt": salt,
                  "expires": self._clock.now().timestamp() + self.policy.ttl_seconds}
        # Kept a while past expiry so a late answer is told "expired", not "never sent".
        await self._store.set(self._key(purpose, subject), record, ttl=self._keep_seconds)
        return code

    async def verify(self, purpose: str, subject: str, code: str) -> None:
        key = self._key(purpose, subject)
        record = await self._store.get(key)
        if record is None:
            raise CodeNotIssuedError
        failures_key = f"code-failures:{record['salt']}"
        if int(await self._store.get(failures_key) or 0) >= self.policy.max_failures:
            raise CodeExhaustedError
        if record["expires"] <= self._clock.now().timestamp():
            await self._store.delete(key)
            raise CodeExpiredError
        if codes_equal(digest_code(normalise(code), record["salt"]), record["digest"]):
            if not await self._store.add(f"code-used:{record['salt']}", 1, ttl=self._keep_seconds):
                raise CodeNotIssuedError  # another chat used it a moment ago
            # Used up: the next operation may send a fresh code at once; the guard protects live codes only.
            await self._store.delete(key)
            await self._store.delete(f"code-guard:{purpose}:{subject}")
            return
        failures = await self._store.incr(failures_key, ttl=self._keep_seconds)
        remaining = self.policy.max_failures - failures
        if remaining <= 0:
            raise CodeExhaustedError
        raise CodeMismatchError(f"{remaining} left", remaining=remaining)

    async def usable(self, purpose: str, subject: str) -> bool:
        """Whether a code was issued that can still be accepted (not expired, used up or exhausted)."""
        record = await self._store.get(self._key(purpose, subject))
        if record is None or record["expires"] <= self._clock.now().timestamp():
            return False
        return int(await self._store.get(f"code-failures:{record['salt']}") or 0) < self.policy.max_failures

    async def cancel(self, purpose: str, subject: str) -> None:
        await self._store.delete(self._key(purpose, subject))

    async def seconds_until_resend(self, purpose: str, subject: str) -> int:
        left = await self._store.ttl(f"code-guard:{purpose}:{subject}")
        return 0 if left is None else int(left + 0.999)

    @property
    def _keep_seconds(self) -> int:
        return self.policy.ttl_seconds + 3600

    @staticmethod
    def _key(purpose: str, subject: str) -> str:
        return f"code:{purpose}:{subject}"


def normalise(code: str) -> str:
    """Full-width digits from an IME, spaces and invisible characters do not make a code wrong (B23)."""
    return re.sub(r"\s", "", clean_text(code))


def expires_at(issued: datetime, policy: CodePolicy) -> float:
    return issued.timestamp() + policy.ttl_seconds
