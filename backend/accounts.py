"""Accounts: registration, log-in with lock-out, security level, quick query, verified cards, closure."""

from __future__ import annotations

import asyncio

import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from backend.audit import Audit
from backend.clock import Clock, as_utc
from backend.crypto import Passwords, Vault
from backend.db import Database
from backend.errors import (
    AccountLockedError,
    AccountNotFoundError,
    BadCredentialsError,
    IdentityTakenError,
    LoginNameTakenError,
)
from backend.identity_rules import login_name_key, mask_card
from backend.models import (
    Account,
    AccountCertificate,
    OutboxMessage,
    QueryRequest,
    StoredFile,
    TranscriptEntry,
    VerifiedCard,
)

logger = logging.getLogger(__name__)

Level = Literal["low", "medium", "high"]
RESIDENT_ID = "0"
CLOSED_MARK = "closed"
# Requests of a closed account that must never be delivered.
OPEN_REQUEST_STATUSES = ("pending", "notifying", "ready", "blocked")
RESIDENT_NUMBER_TYPES = frozenset({"0", "1", "7"})
LEVEL_RANK = {"low": 0, "medium": 1, "high": 2}


@dataclass(frozen=True)
class NewAccount:
    name: str
    id_type: str
    id_number: str
    login_name: str
    password: str
    phone: str


@dataclass(frozen=True)
class AccountView:
    """Decrypted, read-only picture of an account for the dialog layer; never logged."""

    id: int
    login_name: str
    name: str
    id_type: str
    id_number: str
    phone: str
    security_level: Level
    quick_query: bool
    created_at: datetime
    cards_masked: tuple[str, ...]
    authenticator: bool = False  # an authenticator app gives this account's dynamic codes


@dataclass(frozen=True)
class LoginPolicy:
    max_failures: int = 5
    lock_seconds: int = 900


class AccountService:
    def __init__(self, db: Database, vault: Vault, passwords: Passwords, clock: Clock, audit: Audit,
                 policy: LoginPolicy | None = None) -> None:
        self._db, self._vault, self._passwords = db, vault, passwords
        self._clock, self._audit = clock, audit
        self.policy = policy or LoginPolicy()

    def identity_hash(self, id_type: str, id_number: str) -> str:
        """Household register and temporary ID carry the resident ID number: one person, one account."""
        kind = RESIDENT_ID if id_type in RESIDENT_NUMBER_TYPES else id_type
        return self._vault.lookup_hash("identity", f"{kind}:{id_number}")

    async def identity_exists(self, id_type: str, id_number: str) -> bool:
        query = select(Account.id).where(Account.identity_hash == self.identity_hash(id_type, id_number))
        async with self._db.sessions() as session:
            return await session.scalar(query) is not None

    async def login_name_exists(self, login_name: str) -> bool:
        query = select(Account.id).where(Account.login_key == login_name_key(login_name))
        async with self._db.sessions() as session:
            return await session.scalar(query) is not None

    async def register(self, new: NewAccount) -> AccountView:
        """One account per identity and per login name, enforced by unique indexes, not by a prior read."""
        account = self._build(new)
        try:
            async with self._db.transaction() as session:
                session.add(account)
                await session.flush()
                await self._audit.record(session, "user", "account.register", account.id)
        except IntegrityError as exc:
            # A concurrent registration won the race; say which field collided.
            if await self.identity_exists(new.id_type, new.id_number):
                raise IdentityTakenError from exc
            raise LoginNameTakenError from exc
        return self._view(account, ())

    def _build(self, new: NewAccount) -> Account:
        seal = self._vault.seal
        return Account(
            login_name=new.login_name, login_key=login_name_key(new.login_name),
            password_hash=self._passwords.hash(new.password), name_enc=seal(new.name),
            id_type=new.id_type, identity_hash=self.identity_hash(new.id_type, new.id_number),
            id_number_enc=seal(new.id_number), phone_enc=seal(new.phone),
            phone_hash=self._vault.lookup_hash("phone", new.phone), security_level="low",
            quick_query=False, failed_logins=0, created_at=self._clock.now())

    async def login(self, login_name: str, password: str) -> AccountView:
        """Counts wrong passwords and locks after too many; the outcome is raised after commit.

        Raising inside the transaction would roll back the very counter it just raised.
        """
        failure: AccountLockedError | BadCredentialsError | None = None
        async with self._db.transaction() as session:
            # The row lock (PostgreSQL) makes parallel wrong passwords count one by one.
            account = await self._by_login(session, login_name, lock=True)
            if account is None:
                # Same cost as a real check, so timing does not reveal which names exist.
                self._passwords.verify(_DUMMY_HASH, password)
                raise BadCredentialsError(self.policy.max_failures)
            self._check_lock(account)
            if self._passwords.verify(account.password_hash, password):
                account.failed_logins, account.locked_until = 0, None
                await self._audit.record(session, "user", "account.login", account.id)
            else:
                failure = self._count_failure(account)
                await self._audit.record(session, "user", "account.login_failed", account.id)
        if failure is not None:
            raise failure
        return await self.get(account.id)

    async def passwords_among(self, account_id: int, candidates: list[str]) -> list[str]:
        """Which of these tokens (from words the person wrote to an agent) are their password, so the
        agents' transcript can hide them. Never shown to the person, so it is no guessing oracle."""
        async with self._db.sessions() as session:
            hashed = await session.scalar(select(Account.password_hash).where(Account.id == account_id))
        if hashed is None:
            return []
        checks = [await asyncio.to_thread(self._passwords.verify, hashed, c) for c in candidates]
        return [c for c, same in zip(candidates, checks, strict=True) if same]

    def _check_lock(self, account: Account) -> None:
        if account.locked_until is None:
            return
        left = (as_utc(account.locked_until) - self._clock.now()).total_seconds()
        if left > 0:
            raise AccountLockedError(max(1, int(left // 60) + (left % 60 > 0)))
        account.locked_until = None

    def _count_failure(self, account: Account) -> AccountLockedError | BadCredentialsError:
        account.failed_logins += 1
        if account.failed_logins >= self.policy.max_failures:
            account.failed_logins = 0
            account.locked_until = self._clock.now() + timedelta(seconds=self.policy.lock_seconds)
            return AccountLockedError(self.policy.lock_seconds // 60)
        return BadCredentialsError(self.policy.max_failures - account.failed_logins)

    async def get(self, account_id: int) -> AccountView:
        async with self._db.sessions() as session:
            account = await session.scalar(
                select(Account).where(Account.id == account_id).options(selectinload(Account.cards)))
            if account is None:
                raise AccountNotFoundError
            return self._view(account, tuple(c.card_masked for c in account.cards))

    async def find_by_login(self, login_name: str) -> AccountView | None:
        async with self._db.sessions() as session:
            account = await self._by_login(session, login_name)
        return None if account is None else await self.get(account.id)

    async def _by_login(self, session: AsyncSession, login_name: str, lock: bool = False) -> Account | None:
        query = select(Account).where(Account.login_key == login_name_key(login_name))
        return await session.scalar(query.with_for_update() if lock else query)

    async def add_verified_card(self, account_id: int, card: str) -> AccountView:
        """Binds the card and raises the level to high in one transaction."""
        card_hash = self._vault.lookup_hash("card", card)
        async with self._db.transaction() as session:
            account = await session.get(Account, account_id)
            if account is None:
                raise AccountNotFoundError
            known = await session.scalar(select(VerifiedCard.id).where(
                VerifiedCard.account_id == account_id, VerifiedCard.card_hash == card_hash))
            if known is None:
                session.add(VerifiedCard(account_id=account_id, card_hash=card_hash,
                                         card_masked=mask_card(card), verified_at=self._clock.now()))
            account.security_level = "high"
            await self._audit.record(session, "user", "account.level_high", account_id, method="bank_card")
        return await self.get(account_id)

    async def set_level_at_least(self, account_id: int, level: Level) -> AccountView:
        """Raises the security level to `level`; a higher level stays as it is."""
        async with self._db.transaction() as session:
            account = await self._open_account(session, account_id)
            if LEVEL_RANK[level] > LEVEL_RANK.get(account.security_level, 0):
                account.security_level = level
                await self._audit.record(session, "user", f"account.level_{level}", account_id)
        return await self.get(account_id)

    async def set_quick_query(self, account_id: int, enabled: bool) -> AccountView:
        async with self._db.transaction() as session:
            account = await session.get(Account, account_id)
            if account is None:
                raise AccountNotFoundError
            account.quick_query = enabled
            await self._audit.record(session, "user", "account.quick_query", account_id, enabled=enabled)
        return await self.get(account_id)

    async def find_by_identity(self, id_type: str, id_number: str) -> AccountView | None:
        query = select(Account.id).where(Account.identity_hash == self.identity_hash(id_type, id_number))
        async with self._db.sessions() as session:
            account_id = await session.scalar(query)
        return None if account_id is None else await self.get(account_id)

    async def change_phone(self, account_id: int, phone: str) -> AccountView:
        async with self._db.transaction() as session:
            account = await self._open_account(session, account_id)
            account.phone_enc = self._vault.seal(phone)
            account.phone_hash = self._vault.lookup_hash("phone", phone)
            await self._audit.record(session, "user", "account.change_phone", account_id)
        return await self.get(account_id)

    async def reset_password(self, account_id: int, password: str) -> None:
        """A forgotten password replaced after verification; it also lifts a lock-out."""
        async with self._db.transaction() as session:
            account = await self._open_account(session, account_id)
            account.password_hash = self._passwords.hash(password)
            account.failed_logins, account.locked_until = 0, None
            await self._audit.record(session, "user", "account.reset_password", account_id)

    async def close(self, account_id: int, conversation_id: str | None = None) -> None:
        """Anonymises the account so its identity and login name can register again.

        The row stays (audit events and requests point at it); personal data is replaced by sealed
        markers and the unique keys by "closed:<id>", which no log-in or identity can hash to.
        What the chats kept goes too, in every conversation the account used (the one closing it and
        those its requests came from): download links (a report fetched later still opened), waiting
        messages, and the agents' transcript (a later handoff in the same chat showed the closed
        account's whole history to the agent).
        """
        marker = f"{CLOSED_MARK}:{account_id}"
        async with self._db.transaction() as session:
            account = await self._open_account(session, account_id)
            used = set(await session.scalars(select(QueryRequest.conversation_id).where(
                QueryRequest.account_id == account_id)))
            used |= {conversation_id} if conversation_id else set()
            for kept in (StoredFile, OutboxMessage, TranscriptEntry):
                await session.execute(delete(kept).where(kept.conversation_id.in_(used)))
            sealed = self._vault.seal(CLOSED_MARK)
            account.name_enc = account.id_number_enc = account.phone_enc = sealed
            account.identity_hash = account.login_key = account.phone_hash = marker
            account.login_name = marker
            account.password_hash = self._passwords.hash(secrets.token_urlsafe(32))
            account.security_level, account.quick_query = "low", False
            account.closed_at = self._clock.now()
            account.totp_secret_enc = None
            await session.execute(delete(VerifiedCard).where(VerifiedCard.account_id == account_id))
            await session.execute(delete(AccountCertificate).where(AccountCertificate.account_id == account_id))
            await session.execute(update(QueryRequest).where(
                QueryRequest.account_id == account_id, QueryRequest.status.in_(OPEN_REQUEST_STATUSES))
                .values(status="expired", claimed_until=None))
            await self._audit.record(session, "user", "account.close", account_id)

    async def _open_account(self, session: AsyncSession, account_id: int) -> Account:
        account = await session.get(Account, account_id)
        if account is None or account.closed_at is not None:
            raise AccountNotFoundError
        return account

    def _view(self, account: Account, cards: tuple[str, ...]) -> AccountView:
        open_ = self._vault.open
        return AccountView(
            id=account.id, login_name=account.login_name, name=open_(account.name_enc),
            id_type=account.id_type, id_number=open_(account.id_number_enc), phone=open_(account.phone_enc),
            security_level=account.security_level,  # type: ignore[arg-type]
            quick_query=account.quick_query, created_at=as_utc(account.created_at), cards_masked=cards,
            authenticator=account.totp_secret_enc is not None)


_DUMMY_HASH = Passwords().hash("creditbot-timing-equaliser")
