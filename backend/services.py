"""The bundle of backend services, built once from Settings by an entry point."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from backend.accounts import AccountService, LoginPolicy
from backend.audit import Audit
from backend.authenticator import AuthenticatorService, TotpPolicy
from backend.bankcards import BankCardVerifier, SandboxBank
from backend.bus import Bus, MemoryBus, RedisBus
from backend.captcha import CaptchaService
from backend.clock import Clock, SystemClock
from backend.codes import CodePolicy, CodeService
from backend.credit_data import CreditDataSource, SandboxCreditData
from backend.crypto import Passwords, Vault
from backend.db import Database
from backend.errors import ConfigurationError
from backend.handoff import AgentDirectory, HandoffDesk
from backend.kv import KeyValueStore, MemoryKeyValueStore, RedisKeyValueStore
from backend.outbox import FileStore, Outbox
from backend.queries import QueryPolicy, QueryService
from backend.reports import ReportFonts
from backend.settings import Settings
from backend.sms import SandboxSms, SmsGateway
from backend.timeouts import FlowDeadlines


@dataclass
class Services:
    settings: Settings
    clock: Clock
    db: Database
    kv: KeyValueStore
    vault: Vault
    audit: Audit
    accounts: AccountService
    codes: CodeService
    authenticator: AuthenticatorService
    captcha: CaptchaService
    sms: SmsGateway
    bank: BankCardVerifier
    queries: QueryService
    credit: CreditDataSource
    fonts: ReportFonts
    outbox: Outbox
    files: FileStore
    deadlines: FlowDeadlines
    bus: Bus
    agents: AgentDirectory
    handoffs: HandoffDesk
    extras: dict[str, Any]

    async def close(self) -> None:
        await self.bus.close()
        await self.kv.close()
        await self.db.close()


def build_kv(settings: Settings, clock: Clock) -> KeyValueStore:
    if settings.redis_url:
        return RedisKeyValueStore.from_url(settings.redis_url)
    # Expiry follows the injected clock, so codes and sessions age with it in tests too.
    return MemoryKeyValueStore(time_source=lambda: clock.now().timestamp())


def build_bus(settings: Settings) -> Bus:
    return RedisBus.from_url(settings.redis_url) if settings.redis_url else MemoryBus()


def build_services(settings: Settings, clock: Clock | None = None, kv: KeyValueStore | None = None,
                   db: Database | None = None) -> Services:
    """The only place that picks implementations; production refuses sandbox providers."""
    if not settings.sandbox:
        msg = "production providers (SMS gateway, bank, credit bureau) are not configured"
        raise ConfigurationError(msg)
    clock = clock or SystemClock()
    db = db if db is not None else Database(settings.database_url)
    kv = kv if kv is not None else build_kv(settings, clock)
    vault = Vault(settings.encryption_key.reveal())
    audit = Audit(clock)
    passwords = Passwords()
    bus = build_bus(settings)
    fixtures = settings.data_dir / "fixtures"
    return Services(
        settings=settings, clock=clock, db=db, kv=kv, vault=vault, audit=audit,
        accounts=AccountService(db, vault, passwords, clock, audit,
                                LoginPolicy(settings.login_max_failures, settings.login_lock_seconds)),
        codes=CodeService(kv, clock, CodePolicy(settings.code_ttl_seconds, settings.code_max_failures,
                                                settings.code_resend_seconds)),
        authenticator=AuthenticatorService(db, vault, kv, clock, audit, TotpPolicy(window=settings.totp_window)),
        captcha=CaptchaService(kv, settings.captcha_test_answer),
        sms=SandboxSms(db, vault, clock),
        bank=SandboxBank(db, vault, fixtures / "personas.json"),
        queries=QueryService(db, clock, audit, QueryPolicy(settings.report_delay_seconds,
                                                           settings.result_retention_seconds,
                                                           settings.dispatch_lease_seconds)),
        credit=SandboxCreditData(fixtures / "personas.json"),
        fonts=ReportFonts.default(),
        outbox=Outbox(db, clock, vault), files=FileStore(db, vault, clock), deadlines=FlowDeadlines(db, clock),
        bus=bus,
        agents=AgentDirectory(db, kv, clock, audit, passwords, settings.agent_session_seconds,
                              settings.agent_idle_seconds),
        handoffs=HandoffDesk(db, vault, clock, audit, bus, settings.handoff_wait_seconds,
                             settings.transcript_retention_seconds),
        extras={})
