"""Dynamic codes from an authenticator app (TOTP, RFC 6238, by pyotp), an alternative to SMS codes.

A person with quick query confirms a request with a dynamic code; with an app bound, the code comes
from the app instead of an SMS. The shared secret is sealed in the vault like other personal data.

Time steps are 30 seconds, and `window` steps either side of the server's are accepted (B34): a code
shown at 10:00:29 and typed at 10:00:31 has crossed a step boundary and still passes; a phone clock
40 s ahead passes, 100 s ahead does not. Each step's code is accepted once, and never one older than
the last accepted (RFC 6238 section 5.2), so a code seen over a shoulder cannot be used again.
Wrong codes are counted per account before they are checked, so parallel guesses all count.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass

import pyotp
from sqlalchemy import select

from backend.audit import Audit
from backend.clock import Clock
from backend.codes import normalise
from backend.crypto import Vault
from backend.db import Database
from backend.errors import CodeError, CodeExpiredError, CodeMismatchError, CodeNotIssuedError
from backend.kv import KeyValueStore
from backend.models import Account

ISSUER = "creditbot"
DIGITS = 6


class AuthenticatorLockedError(CodeError):
    """Too many wrong app codes in the lock window; the account's app codes wait until it passes."""

    reason = "authenticator.locked"


class AuthenticatorReusedError(CodeError):
    """The code of a time step already used (or older): each one works once."""

    reason = "authenticator.reused"


@dataclass(frozen=True)
class TotpPolicy:
    interval: int = 30
    window: int = 1  # steps accepted either side of the server's (CREDITBOT_TOTP_WINDOW)
    max_failures: int = 5
    lock_seconds: int = 900
    enrol_seconds: int = 600  # a secret shown for binding must be confirmed within this


@dataclass(frozen=True)
class Enrolment:
    """What the person types into (or opens in) their app; shown once, never stored in clear."""

    secret: str
    uri: str

    def __repr__(self) -> str:
        return "Enrolment(**********)"


class AuthenticatorService:
    def __init__(self, db: Database, vault: Vault, kv: KeyValueStore, clock: Clock, audit: Audit,
                 policy: TotpPolicy | None = None) -> None:
        self._db, self._vault, self._kv, self._clock, self._audit = db, vault, kv, clock, audit
        self.policy = policy or TotpPolicy()

    def _totp(self, secret: str) -> pyotp.TOTP:
        return pyotp.TOTP(secret, digits=DIGITS, interval=self.policy.interval)

    async def bound(self, account_id: int) -> bool:
        return await self._secret(account_id) is not None

    async def begin(self, account_id: int, label: str) -> Enrolment:
        """A new secret for the account, waiting for a first good code; an earlier waiting one is replaced."""
        secret = pyotp.random_base32()
        await self._kv.set(self._pending_key(account_id), self._vault.seal(secret), ttl=self.policy.enrol_seconds)
        return Enrolment(secret, self._totp(secret).provisioning_uri(name=label, issuer_name=ISSUER))

    async def confirm(self, account_id: int, code: str) -> None:
        """Binds the waiting secret once the app shows a right code for it."""
        sealed = await self._kv.get(self._pending_key(account_id))
        if sealed is None:
            raise CodeExpiredError
        secret = self._vault.open(sealed)
        counter = await self._check(account_id, secret, code)
        async with self._db.transaction() as session:
            account = await session.get(Account, account_id)
            if account is None or account.closed_at is not None:
                raise CodeNotIssuedError
            account.totp_secret_enc = self._vault.seal(secret)
            await self._audit.record(session, "user", "account.authenticator_on", account_id)
        await self._kv.delete(self._pending_key(account_id))
        await self._kv.set(self._last_key(account_id), counter, ttl=self._memory_seconds)

    async def verify(self, account_id: int, code: str) -> None:
        """Raises a CodeError unless `code` is the app's code for now (within the window), unused."""
        secret = await self._secret(account_id)
        if secret is None:
            raise CodeNotIssuedError
        await self._check(account_id, secret, code)

    async def remove(self, account_id: int) -> None:
        async with self._db.transaction() as session:
            account = await session.get(Account, account_id)
            if account is None or account.totp_secret_enc is None:
                return
            account.totp_secret_enc = None
            await self._audit.record(session, "user", "account.authenticator_off", account_id)
        # Removing needs the phone's code: a lock earned by the old app must not refuse a new one.
        for key in (self._last_key(account_id), self._fail_key(account_id), self._lock_key(account_id)):
            await self._kv.delete(key)

    async def _secret(self, account_id: int) -> str | None:
        async with self._db.sessions() as session:
            sealed = await session.scalar(select(Account.totp_secret_enc).where(
                Account.id == account_id, Account.closed_at.is_(None)))
        return None if sealed is None else self._vault.open(sealed)

    async def _check(self, account_id: int, secret: str, raw: str) -> int:
        """The matched time step. Each try is counted before it is checked (parallel guesses all count);
        the fifth wrong one locks app codes for `lock_seconds` from then; each step is taken once."""
        if await self._kv.get(self._lock_key(account_id)):
            raise AuthenticatorLockedError
        code = normalise(raw)
        if not (len(code) == DIGITS and code.isdigit()):  # a typo, not a guess: it costs no try
            failures = int(await self._kv.get(self._fail_key(account_id)) or 0)
            raise CodeMismatchError(remaining=self.policy.max_failures - failures)
        failures = await self._kv.incr(self._fail_key(account_id), ttl=self.policy.lock_seconds)
        if failures > self.policy.max_failures:
            raise AuthenticatorLockedError
        counter = self._match(secret, code)
        if counter is None:
            if failures >= self.policy.max_failures:
                await self._kv.set(self._lock_key(account_id), 1, ttl=self.policy.lock_seconds)
                await self._kv.delete(self._fail_key(account_id))
                raise AuthenticatorLockedError
            raise CodeMismatchError(remaining=self.policy.max_failures - failures)
        last = await self._kv.get(self._last_key(account_id))
        if (last is not None and counter <= int(last)) or not await self._kv.add(
                f"totp-used:{account_id}:{counter}", 1, ttl=self._memory_seconds):
            # A right code seen before: no guess, so it gives its try back, but it passes nothing.
            await self._kv.incr(self._fail_key(account_id), ttl=self.policy.lock_seconds, amount=-1)
            raise AuthenticatorReusedError
        await self._kv.set(self._last_key(account_id), counter, ttl=self._memory_seconds)
        await self._kv.delete(self._fail_key(account_id))  # the app is in the right hands
        return counter

    def _match(self, secret: str, code: str) -> int | None:
        totp, now = self._totp(secret), self._clock.now()
        here = totp.timecode(now)
        found = None
        for offset in range(-self.policy.window, self.policy.window + 1):
            # Every candidate is compared, in constant time, whatever matched before.
            if hmac.compare_digest(totp.at(now, counter_offset=offset), code):
                found = here + offset
        return found

    @property
    def _memory_seconds(self) -> int:
        return self.policy.interval * (2 * self.policy.window + 2)

    @staticmethod
    def _pending_key(account_id: int) -> str:
        return f"totp-pending:{account_id}"

    @staticmethod
    def _last_key(account_id: int) -> str:
        return f"totp-last:{account_id}"

    @staticmethod
    def _fail_key(account_id: int) -> str:
        return f"totp-fail:{account_id}"

    @staticmethod
    def _lock_key(account_id: int) -> str:
        return f"totp-lock:{account_id}"

    async def locked(self, account_id: int) -> bool:
        return bool(await self._kv.get(self._lock_key(account_id)))
