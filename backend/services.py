"""The bundle of backend services, built once from Settings by an entry point."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from backend.accounts import AccountService, LoginPolicy
from backend.audit import Audit
from backend.bankcards import BankCardVerifier, SandboxBank
from backend.captcha import CaptchaService
from backend.clock import Clock, SystemClock
from backend.codes import CodePolicy, CodeService
from backend.credit_data import CreditDataSource, SandboxCreditData
from backend.crypto import Passwords, Vault
from backend.db import Database
from backend.errors import ConfigurationError
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
    captcha: CaptchaService
    sms: SmsGateway
    bank: BankCardVerifier
    queries: QueryService
    credit: CreditDataSource
    fonts: ReportFonts
    outbox: Outbox
    files: FileStore
    deadlines: FlowDeadlines
    extras: dict[str, Any]

    async def close(self) -> None:
        await self.kv.close()
        await self.db.close()


def build_kv(settings: Settings, clock: Clock) -> KeyValueStore:
    if settings.redis_url:
        return RedisKeyValueStore.from_url(settings.redis_url)
    # Expiry follows the injected clock, so codes and sessions age with it in tests too.
    return MemoryKeyValueStore(time_source=lambda: clock.now().timestamp())


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
    fixtures = settings.data_dir / "fixtures"
    return Services(
        settings=settings, clock=clock, db=db, kv=kv, vault=vault, audit=audit,
        accounts=AccountService(db, vault, Passwords(), clock, audit,
                                LoginPolicy(settings.login_max_failures, settings.login_lock_seconds)),
        codes=CodeService(kv, clock, CodePolicy(settings.code_ttl_seconds, settings.code_max_failures,
                                                settings.code_resend_seconds)),
        captcha=CaptchaService(kv, settings.captcha_test_answer),
        sms=SandboxSms(db, vault, clock),
        bank=SandboxBank(db, vault, fixtures / "personas.json"),
        queries=QueryService(db, clock, audit, QueryPolicy(settings.report_delay_seconds,
                                                           settings.result_retention_seconds,
                                                           settings.dispatch_lease_seconds)),
        credit=SandboxCreditData(fixtures / "personas.json"),
        fonts=ReportFonts.default(),
        outbox=Outbox(db, clock), files=FileStore(db, vault, clock), deadlines=FlowDeadlines(db, clock),
        extras={})
