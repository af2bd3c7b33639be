"""Certificate verification: chain, validity, key usage, revocation, possession, passwords (B45), binding."""

from __future__ import annotations

import json
import logging
import os
import shutil
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from fakes import ENCRYPTION_KEY
from sqlalchemy import select

from backend.accounts import AccountService, NewAccount
from backend.audit import Audit
from backend.certificates import (
    BoundElsewhereError,
    CertificateService,
    CertificateUnavailableError,
    Claim,
    ExpiredError,
    KeyUsageError,
    NotHolderError,
    RevokedError,
    StaleRevocationListError,
    SubjectMismatchError,
    UnreadableFileError,
    UntrustedError,
    WrongPasswordError,
    certificates_for,
    looks_like_pkcs12,
)
from backend.clock import FixedClock
from backend.crypto import Passwords, Vault
from backend.db import Database
from backend.migrate import upgrade_async
from backend.models import Account, AccountCertificate
from backend.errors import ConfigurationError
from backend.sandbox_ca import DEFAULT_DIR, certificate_of, issue_certificate, load_ca, revoke
from backend.settings import REPO_ROOT, Settings

P1 = NewAccount(name="王小明", id_type="0", id_number="110105199003071239", login_name="wangxm01",
                password="Abc12345!", phone="15500000101")
P2 = NewAccount(name="李建国", id_type="0", id_number="11010519691231007X", login_name="lijianguo1",
                password="Xyz12345!", phone="16600000202")
ASCII_PW, NON_ASCII_PW = "Zhengshu2026!", "证书密码2026"


@pytest.fixture
def ca_dir(tmp_path: Path) -> Path:
    """A copy of the sandbox CA, so revoking never touches data/."""
    folder = tmp_path / "ca"
    shutil.copytree(DEFAULT_DIR, folder, ignore=shutil.ignore_patterns("*.md"))
    return folder


@pytest.fixture
async def db(settings: Settings) -> AsyncIterator[Database]:
    await upgrade_async(settings.database_url)
    database = Database(settings.database_url)
    yield database
    await database.close()


@pytest.fixture
def service(db: Database, clock: FixedClock, ca_dir: Path) -> CertificateService:
    return CertificateService(db, Vault(ENCRYPTION_KEY), clock, Audit(clock), ca_dir)


@pytest.fixture
def accounts(db: Database, clock: FixedClock) -> AccountService:
    return AccountService(db, Vault(ENCRYPTION_KEY), Passwords(), clock, Audit(clock))


def issue(ca_dir: Path, clock: FixedClock, person: NewAccount = P1, password: str = ASCII_PW, **kw: object) -> bytes:
    return issue_certificate(ca_dir, name=person.name, id_number=person.id_number, password=password,
                             now=clock.now(), **kw)  # type: ignore[arg-type]


def claim(person: NewAccount = P1) -> Claim:
    return Claim(person.name, person.id_type, person.id_number)


async def level(db: Database, account_id: int) -> str:
    async with db.sessions() as session:
        account = await session.get(Account, account_id)
        assert account is not None
        return account.security_level


# -- verification -------------------------------------------------------------------------------

def test_valid_certificate_verifies(service: CertificateService, ca_dir: Path, clock: FixedClock) -> None:
    cert = service.verify(issue(ca_dir, clock), ASCII_PW)
    assert (cert.subject_name, cert.subject_id_number) == (P1.name, P1.id_number)
    assert len(cert.fingerprint) == 64
    assert P1.id_number not in cert.subject_masked and "1239" in cert.subject_masked


def test_expired_certificate_is_refused(service: CertificateService, ca_dir: Path, clock: FixedClock) -> None:
    with pytest.raises(ExpiredError):
        service.verify(issue(ca_dir, clock, expired=True), ASCII_PW)


def test_certificate_expires_with_the_clock(service: CertificateService, ca_dir: Path, clock: FixedClock) -> None:
    p12 = issue(ca_dir, clock, days=30)
    service.verify(p12, ASCII_PW)
    clock.advance(31 * 86400)
    with pytest.raises(ExpiredError):
        service.verify(p12, ASCII_PW)


def test_other_ca_is_untrusted(service: CertificateService, ca_dir: Path, clock: FixedClock) -> None:
    """Signed by a CA with the very same name but another key: the signature decides, not the name."""
    with pytest.raises(UntrustedError):
        service.verify(issue(ca_dir, clock, other_ca=True), ASCII_PW)


def test_empty_trust_store_trusts_nothing(db: Database, clock: FixedClock, ca_dir: Path, tmp_path: Path) -> None:
    empty = tmp_path / "no-roots"
    empty.mkdir()
    service = CertificateService(db, Vault(ENCRYPTION_KEY), clock, Audit(clock), empty)
    with pytest.raises(UntrustedError):
        service.verify(issue(ca_dir, clock), ASCII_PW)


def test_revoked_certificate_is_refused(service: CertificateService, ca_dir: Path, clock: FixedClock) -> None:
    p12, other = issue(ca_dir, clock), issue(ca_dir, clock)
    revoke(ca_dir, certificate_of(p12, ASCII_PW).serial_number, now=clock.now())
    with pytest.raises(RevokedError):
        service.verify(p12, ASCII_PW)
    service.verify(other, ASCII_PW)  # only the listed serial


def test_key_usage_without_digital_signature_is_refused(service: CertificateService, ca_dir: Path,
                                                         clock: FixedClock) -> None:
    with pytest.raises(KeyUsageError):
        service.verify(issue(ca_dir, clock, key_usage=False), ASCII_PW)


def test_wrong_password(service: CertificateService, ca_dir: Path, clock: FixedClock) -> None:
    with pytest.raises(WrongPasswordError) as caught:
        service.verify(issue(ca_dir, clock), "zhengshu")
    assert caught.value.non_ascii is False


def test_b45_ascii_password_loads(service: CertificateService, ca_dir: Path, clock: FixedClock) -> None:
    service.verify(issue(ca_dir, clock, password="Zhengshu2026!"), "Zhengshu2026!")


@pytest.mark.parametrize("encoding", ["utf-8", "gb18030", "utf-16-be"])
def test_b45_non_ascii_password_loads_in_any_creator_encoding(service: CertificateService, ca_dir: Path,
                                                              clock: FixedClock, encoding: str) -> None:
    p12 = issue(ca_dir, clock, password=NON_ASCII_PW, password_encoding=encoding)
    assert service.verify(p12, NON_ASCII_PW).subject_name == P1.name


def test_b45_non_ascii_password_that_fits_no_encoding_says_so(service: CertificateService, ca_dir: Path,
                                                              clock: FixedClock) -> None:
    with pytest.raises(WrongPasswordError) as caught:
        service.verify(issue(ca_dir, clock, password=ASCII_PW), NON_ASCII_PW)
    assert caught.value.non_ascii is True


def test_password_is_never_logged(service: CertificateService, ca_dir: Path, clock: FixedClock,
                                  caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    p12 = issue(ca_dir, clock, password=NON_ASCII_PW)
    service.verify(p12, NON_ASCII_PW)
    with pytest.raises(WrongPasswordError):
        service.verify(p12, "zhengshu")
    assert NON_ASCII_PW not in caplog.text and "zhengshu" not in caplog.text
    assert P1.id_number not in caplog.text


@pytest.mark.parametrize("damage", ["garbage", "empty", "truncated", "flipped", "text"])
def test_damaged_file_is_refused_not_crashed(service: CertificateService, ca_dir: Path, clock: FixedClock,
                                             damage: str) -> None:
    good = issue(ca_dir, clock)
    middle = len(good) // 2
    data = {"garbage": b"\x30\x82 not a certificate at all" * 10, "empty": b"", "truncated": good[:-20],
            "flipped": good[:middle] + bytes([good[middle] ^ 0xFF]) + good[middle + 1:],
            "text": b"-----BEGIN CERTIFICATE-----"}[damage]
    with pytest.raises((UnreadableFileError, WrongPasswordError)):
        service.verify(data, ASCII_PW)
    if damage != "flipped":  # a flipped byte inside keeps the shape: only the MAC (i.e. password) check sees it
        assert not looks_like_pkcs12(data)


def test_possession_fails_with_a_key_that_is_not_the_certificates(ca_dir: Path, clock: FixedClock) -> None:
    """cryptography will not even write such a PKCS#12 file, so the proof itself is checked."""
    from cryptography.hazmat.primitives.asymmetric import ec

    from backend.certificates import PossessionError, _sign_and_verify

    cert = certificate_of(issue(ca_dir, clock), ASCII_PW)
    with pytest.raises(PossessionError):
        _sign_and_verify(ec.generate_private_key(ec.SECP256R1()), cert)
    with pytest.raises(PossessionError):
        _sign_and_verify(None, cert)


def test_nul_in_password_is_a_wrong_password(service: CertificateService, ca_dir: Path, clock: FixedClock) -> None:
    with pytest.raises(WrongPasswordError):
        service.verify(issue(ca_dir, clock), "Zheng\0shu")


# -- binding ------------------------------------------------------------------------------------

async def test_first_use_binds_and_raises_level(service: CertificateService, accounts: AccountService,
                                                db: Database, ca_dir: Path, clock: FixedClock) -> None:
    account = await accounts.register(P1)
    cert = service.verify(issue(ca_dir, clock), ASCII_PW)
    assert await service.owner(cert) is None
    await service.bind(account.id, cert, claim())
    assert await service.owner(cert) == account.id
    assert await level(db, account.id) == "high"
    async with db.sessions() as session:
        row = (await session.scalars(select(AccountCertificate))).one()
    assert row.fingerprint_hash != cert.fingerprint and P1.id_number not in row.subject_masked
    await service.bind(account.id, cert, None)  # later use: no identity needed


async def test_first_use_needs_the_holders_identity(service: CertificateService, accounts: AccountService,
                                                    db: Database, ca_dir: Path, clock: FixedClock) -> None:
    account = await accounts.register(P1)
    cert = service.verify(issue(ca_dir, clock), ASCII_PW)
    for wrong in (None, claim(P2), Claim(P1.name, "0", P2.id_number)):
        with pytest.raises(NotHolderError):
            await service.bind(account.id, cert, wrong)
    assert await service.owner(cert) is None
    assert await level(db, account.id) == "low"


async def test_certificate_of_another_person_is_refused(service: CertificateService, accounts: AccountService,
                                                        ca_dir: Path, clock: FixedClock) -> None:
    """P1 answers with their own identity but uploads P2's certificate."""
    account = await accounts.register(P1)
    cert = service.verify(issue(ca_dir, clock, person=P2), ASCII_PW)
    with pytest.raises(SubjectMismatchError):
        await service.bind(account.id, cert, claim(P1))


async def test_certificate_bound_to_another_account_is_refused(service: CertificateService,
                                                               accounts: AccountService, db: Database,
                                                               ca_dir: Path, clock: FixedClock) -> None:
    first, second = await accounts.register(P1), await accounts.register(P2)
    cert = service.verify(issue(ca_dir, clock), ASCII_PW)
    await service.bind(first.id, cert, claim(P1))
    for attempt in (None, claim(P2)):
        with pytest.raises(BoundElsewhereError):
            await service.bind(second.id, cert, attempt)
    assert await level(db, second.id) == "low"


# -- revocation lists must be current ------------------------------------------------------------

def write_crl(ca_dir: Path, path: Path, clock: FixedClock, *, next_update_days: int, revoked: tuple[int, ...] = (),
              der: bool = False) -> Path:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization

    ca, now = load_ca(ca_dir), clock.now()
    builder = (x509.CertificateRevocationListBuilder().issuer_name(ca.cert.subject)
               .last_update(now - timedelta(days=30)).next_update(now + timedelta(days=next_update_days)))
    for serial in revoked:
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(now - timedelta(days=20)).build())
    crl = builder.sign(ca.key, hashes.SHA256())
    path.write_bytes(crl.public_bytes(serialization.Encoding.DER if der else serialization.Encoding.PEM))
    return path


def test_expired_crl_is_not_proof_of_non_revocation(service: CertificateService, ca_dir: Path,
                                                    clock: FixedClock) -> None:
    p12 = issue(ca_dir, clock)
    write_crl(ca_dir, ca_dir / "ca.crl", clock, next_update_days=-1)  # nextUpdate was yesterday
    with pytest.raises(StaleRevocationListError) as caught:
        service.verify(p12, ASCII_PW)
    assert caught.value.reason == "crl_expired"


def test_crl_expires_with_the_clock(service: CertificateService, ca_dir: Path, clock: FixedClock) -> None:
    p12 = issue(ca_dir, clock)
    write_crl(ca_dir, ca_dir / "ca.crl", clock, next_update_days=7)
    service.verify(p12, ASCII_PW)
    clock.advance(8 * 86400)
    with pytest.raises(StaleRevocationListError):
        service.verify(p12, ASCII_PW)


def test_expired_crl_that_lists_the_certificate_still_means_revoked(service: CertificateService, ca_dir: Path,
                                                                     clock: FixedClock) -> None:
    p12 = issue(ca_dir, clock)
    serial = certificate_of(p12, ASCII_PW).serial_number
    write_crl(ca_dir, ca_dir / "ca.crl", clock, next_update_days=-1, revoked=(serial,))
    with pytest.raises(RevokedError):
        service.verify(p12, ASCII_PW)


def test_a_current_crl_beside_an_expired_one_is_enough(service: CertificateService, ca_dir: Path,
                                                       clock: FixedClock) -> None:
    write_crl(ca_dir, ca_dir / "old.crl", clock, next_update_days=-1)
    service.verify(issue(ca_dir, clock), ASCII_PW)  # ca.crl (sandbox, 10 years) is current


# -- trust roots from settings ------------------------------------------------------------------

def services_for(settings: Settings, db: Database, clock: FixedClock) -> SimpleNamespace:
    return SimpleNamespace(settings=settings, db=db, vault=Vault(ENCRYPTION_KEY), clock=clock, audit=Audit(clock),
                           extras={})


def test_trust_roots_and_crls_from_settings_files(db: Database, ca_dir: Path, clock: FixedClock,
                                                  tmp_path: Path) -> None:
    roots = tmp_path / "roots.pem"
    roots.write_bytes((ca_dir / "ca.crt").read_bytes())
    p12, other = issue(ca_dir, clock), issue(ca_dir, clock)
    der = write_crl(ca_dir, tmp_path / "revoked.der", clock, next_update_days=30,
                    revoked=(certificate_of(p12, ASCII_PW).serial_number,), der=True)
    env = {"CREDITBOT_CERT_TRUST_ROOTS": str(roots), "CREDITBOT_CERT_CRLS": f"{ca_dir / 'ca.crl'}{os.pathsep}{der}",
           "CREDITBOT_VAR_DIR": str(tmp_path / "var")}
    settings = Settings.from_env(env)
    assert settings.cert_trust_roots == roots and settings.cert_crls == (ca_dir / "ca.crl", der)
    service = certificates_for(services_for(settings, db, clock))  # type: ignore[arg-type]
    assert service.available and service.trust_roots == roots
    service.verify(other, ASCII_PW)
    with pytest.raises(RevokedError):  # from the DER list
        service.verify(p12, ASCII_PW)


def test_roots_file_without_the_issuer_trusts_nothing(db: Database, ca_dir: Path, clock: FixedClock,
                                                      tmp_path: Path) -> None:
    other_root = tmp_path / "other.pem"
    other_root.write_bytes(b"")
    settings = Settings.from_env({"CREDITBOT_CERT_TRUST_ROOTS": str(other_root),
                                  "CREDITBOT_VAR_DIR": str(tmp_path / "var")})
    with pytest.raises(UntrustedError):
        certificates_for(services_for(settings, db, clock)).verify(issue(ca_dir, clock), ASCII_PW)  # type: ignore[arg-type]


@pytest.mark.parametrize("name", ["CREDITBOT_CERT_TRUST_ROOTS", "CREDITBOT_CERT_CRLS"])
def test_missing_configured_file_stops_start_up(tmp_path: Path, name: str) -> None:
    with pytest.raises(ConfigurationError, match=f"{name}: no such file"):
        Settings.from_env({name: str(tmp_path / "nope.pem"), "CREDITBOT_VAR_DIR": str(tmp_path / "var")})


def test_sandbox_defaults_to_the_sandbox_ca(db: Database, clock: FixedClock, tmp_path: Path) -> None:
    settings = Settings.from_env({"CREDITBOT_VAR_DIR": str(tmp_path / "var")})
    assert settings.cert_trust_roots is None and settings.cert_crls == ()
    service = certificates_for(services_for(settings, db, clock))  # type: ignore[arg-type]
    assert service.trust_roots == REPO_ROOT / "data" / "sandbox_ca"


def test_production_without_roots_says_certificates_are_unavailable(db: Database, clock: FixedClock,
                                                                    tmp_path: Path) -> None:
    settings = Settings.from_env({"CREDITBOT_ENV": "production", "CREDITBOT_ENCRYPTION_KEY": ENCRYPTION_KEY,
                                  "CREDITBOT_VAR_DIR": str(tmp_path / "var")})
    service = certificates_for(services_for(settings, db, clock))  # type: ignore[arg-type]
    assert not service.available  # never the sandbox CA outside the sandbox
    sandbox_p12 = issue_certificate(name=P1.name, id_number=P1.id_number, password=ASCII_PW, now=clock.now())
    with pytest.raises(CertificateUnavailableError, match="not available: CREDITBOT_CERT_TRUST_ROOTS is not set"):
        service.verify(sandbox_p12, ASCII_PW)


@pytest.mark.parametrize("reason", [StaleRevocationListError.reason, CertificateUnavailableError.reason])
def test_new_refusals_have_texts_in_both_catalogs(reason: str) -> None:
    from dialogs.flows.certificate import REFUSED

    for lang in ("zh", "en"):
        catalog = json.loads((REPO_ROOT / "dialogs" / "locales" / f"{lang}.certificate.json").read_text("utf-8"))
        assert catalog[REFUSED[reason]] and catalog["certificate.unavailable"]
