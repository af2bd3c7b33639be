"""Digital-certificate verification: open a PKCS#12 file in memory, check it, bind it, raise the level.

Checks, in order: the file opens with the password (trying the encodings exporters used for
non-ASCII passwords, case B45), the chain reaches a configured trust root, every certificate in it
is within its validity period, the end certificate allows digitalSignature, no revocation list
of an issuer in the chain lists it and every such list is still current (its nextUpdate has not
passed: a stale list proves nothing), and the file's private key signs a fresh random challenge that the
certificate's public key verifies. Neither the password nor the private key is kept or logged.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import datetime
from collections.abc import Sequence
from itertools import pairwise
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, padding, rsa
from cryptography.hazmat.primitives.serialization import Encoding, pkcs12
from cryptography.x509.oid import NameOID
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from backend.audit import Audit
from backend.clock import Clock, as_utc
from backend.crypto import Vault
from backend.db import Database
from backend.errors import AccountNotFoundError, BackendError
from backend.identity_rules import Ok, mask_id, mask_name, normalize_name
from backend.models import Account, AccountCertificate

if TYPE_CHECKING:
    from backend.services import Services

logger = logging.getLogger(__name__)

MAX_FILE_BYTES = 256 * 1024
MAX_CHAIN = 5
LEGACY_ENCODINGS = ("gb18030", "utf-16-be")  # what exporters fed PKCS#12 for non-ASCII passwords (B45)
RESIDENT_NUMBER_TYPES = frozenset({"0", "1", "7"})


class CertificateError(BackendError):
    reason = "certificate.error"


class UnreadableFileError(CertificateError):
    reason = "bad_file"


class WrongPasswordError(CertificateError):
    """`non_ascii`: every encoding was tried for a non-ASCII password; re-export with ASCII."""

    reason = "wrong_password"

    def __init__(self, non_ascii: bool) -> None:
        super().__init__("password did not open the file", non_ascii=non_ascii)
        self.non_ascii = non_ascii


class UntrustedError(CertificateError):
    reason = "untrusted"


class ExpiredError(CertificateError):
    reason = "expired"


class NotYetValidError(CertificateError):
    reason = "not_yet_valid"


class RevokedError(CertificateError):
    reason = "revoked"


class StaleRevocationListError(CertificateError):
    """The issuer's revocation list is past its nextUpdate (or has none), so it cannot show that the
    certificate is not revoked; verification waits until a current list is installed."""

    reason = "crl_expired"


class CertificateUnavailableError(CertificateError):
    """No trust roots are configured (outside the sandbox): certificate verification is switched off."""

    reason = "unavailable"

    def __init__(self) -> None:
        super().__init__("certificate verification is not available: CREDITBOT_CERT_TRUST_ROOTS is not set")


class KeyUsageError(CertificateError):
    reason = "key_usage"


class PossessionError(CertificateError):
    """The file's private key is missing, of an unknown type, or not the certificate's."""

    reason = "possession"


class BoundElsewhereError(CertificateError):
    reason = "bound_elsewhere"


class NotHolderError(CertificateError):
    """The identity answered is not the account holder's."""

    reason = "not_holder"


class SubjectMismatchError(CertificateError):
    """The certificate names another person than the account holder."""

    reason = "subject_mismatch"


@dataclass(frozen=True)
class Claim:
    name: str
    id_type: str
    id_number: str


@dataclass(frozen=True)
class VerifiedCertificate:
    """The public facts of a certificate that passed every check; no key, no password."""

    der: bytes
    fingerprint: str  # SHA-256 of the DER, hex
    subject_name: str | None
    subject_id_number: str | None
    not_after: datetime

    @property
    def subject_masked(self) -> str:
        parts = []
        if self.subject_name:
            parts.append(f"CN={mask_name(self.subject_name)}")
        if self.subject_id_number:
            parts.append(f"serialNumber={mask_id(self.subject_id_number)}")
        return ", ".join(parts) or "-"


def looks_like_pkcs12(data: bytes) -> bool:
    """A DER SEQUENCE spanning the whole file and starting with version 3: cheap, before any password."""
    if len(data) < 4 or len(data) > MAX_FILE_BYTES or data[0] != 0x30:
        return False
    first = data[1]
    if first < 0x80:
        header, length = 2, first
    else:
        count = first & 0x7F
        if count == 0 or count > 4 or len(data) < 2 + count:
            return False
        header, length = 2 + count, int.from_bytes(data[2:2 + count], "big")
    return header + length == len(data) and data[header:header + 3] == b"\x02\x01\x03"


def legacy_password_bytes(password: str, encoding: str) -> bytes:
    """The bytes an exporter produced when it fed `encoding` bytes to PKCS#12 as if each were a character.

    OpenSSL turns a password that is not UTF-8 into BMP characters byte by byte; cryptography only
    accepts UTF-8, so the same key derivation is reached through the Latin-1 reading of those bytes.
    """
    raw = password.encode(encoding)
    if encoding != "utf-8":
        raw = raw.split(b"\0", 1)[0]  # a C string ends at the first NUL (UTF-16 "2" is 00 32)
        raw = raw.decode("latin-1").encode("utf-8")
    return raw


def password_candidates(password: str) -> list[bytes]:
    """UTF-8 first (the standard); for non-ASCII passwords also GB18030/GBK and UTF-16-BE bytes."""
    if "\0" in password:  # cryptography panics on NUL in a password; no exporter can make one
        return []
    candidates = [password.encode("utf-8")]
    if not password.isascii():
        for encoding in LEGACY_ENCODINGS:
            try:
                candidate = legacy_password_bytes(password, encoding)
            except UnicodeEncodeError:
                continue
            if candidate and candidate not in candidates:
                candidates.append(candidate)
    return candidates


def _open_p12(data: bytes, password: str) -> pkcs12.PKCS12KeyAndCertificates:
    if not looks_like_pkcs12(data):
        raise UnreadableFileError
    for candidate in password_candidates(password):
        try:
            return pkcs12.load_pkcs12(data, candidate)
        except (ValueError, TypeError):  # wrong password or damaged data: PKCS#12 cannot tell them apart
            continue
        except BaseException as exc:  # a malformed file must never become a crash
            if isinstance(exc, Exception) or type(exc).__name__ == "PanicException":  # pyo3 panics are BaseException
                logger.warning("PKCS#12 file could not be parsed (%s)", type(exc).__name__)
                raise UnreadableFileError from None
            raise
    raise WrongPasswordError(non_ascii=not password.isascii())


def _attribute(name: x509.Name, oid: x509.ObjectIdentifier) -> str | None:
    values = name.get_attributes_for_oid(oid)
    value = values[0].value if values else None
    return value if isinstance(value, str) else None


def _sign_and_verify(key: object, cert: x509.Certificate) -> None:
    """Proof of possession: the file's key signs a fresh challenge the certificate's key verifies."""
    challenge = secrets.token_bytes(32)
    public = cert.public_key()
    try:
        if isinstance(key, rsa.RSAPrivateKey) and isinstance(public, rsa.RSAPublicKey):
            public.verify(key.sign(challenge, padding.PKCS1v15(), hashes.SHA256()), challenge,
                          padding.PKCS1v15(), hashes.SHA256())
        elif isinstance(key, ec.EllipticCurvePrivateKey) and isinstance(public, ec.EllipticCurvePublicKey):
            public.verify(key.sign(challenge, ec.ECDSA(hashes.SHA256())), challenge, ec.ECDSA(hashes.SHA256()))
        elif (isinstance(key, ed25519.Ed25519PrivateKey | ed448.Ed448PrivateKey)
              and isinstance(public, ed25519.Ed25519PublicKey | ed448.Ed448PublicKey)):
            public.verify(key.sign(challenge), challenge)  # a mixed pair fails verification
        else:
            raise PossessionError
    except (InvalidSignature, ValueError):
        raise PossessionError from None


class CertificateService:
    """`trust_roots`: a PEM file of CA certificates, or a folder of *.crt/*.pem roots and *.crl lists
    (the sandbox CA); `crls`: more revocation lists, PEM or DER. No roots: verification unavailable."""

    def __init__(self, db: Database, vault: Vault, clock: Clock, audit: Audit, trust_roots: Path | None,
                 crls: Sequence[Path] = ()) -> None:
        self._db, self._vault, self._clock, self._audit = db, vault, clock, audit
        self.trust_roots, self.crl_paths = trust_roots, tuple(crls)

    @property
    def available(self) -> bool:
        return self.trust_roots is not None

    # -- verification (no database) -----------------------------------------------------------

    def verify(self, data: bytes, password: str) -> VerifiedCertificate:
        """Every check of the module doc; raises a CertificateError subclass on the first failure."""
        if not self.available:
            raise CertificateUnavailableError
        p12 = _open_p12(data, password)
        if p12.cert is None or p12.key is None:
            raise PossessionError if p12.cert is not None else UnreadableFileError
        cert = p12.cert.certificate
        extra = [c.certificate for c in p12.additional_certs]
        chain = self._chain(cert, extra)
        for link in chain:
            self._check_period(link)
        self._check_key_usage(cert)
        self._check_revocation(chain)
        _sign_and_verify(p12.key, cert)
        verified = self.describe(cert)
        logger.info("certificate verified: %s", verified.subject_masked)
        return verified

    def describe(self, cert: x509.Certificate) -> VerifiedCertificate:
        return VerifiedCertificate(
            der=cert.public_bytes(Encoding.DER), fingerprint=cert.fingerprint(hashes.SHA256()).hex(),
            subject_name=_attribute(cert.subject, NameOID.COMMON_NAME),
            subject_id_number=_attribute(cert.subject, NameOID.SERIAL_NUMBER),
            not_after=cert.not_valid_after_utc)

    def from_der(self, der: bytes) -> VerifiedCertificate:
        """A certificate verified earlier in the conversation, restored from its (sealed) DER."""
        return self.describe(x509.load_der_x509_certificate(der))

    def _root_files(self) -> list[Path]:
        folder = self.trust_roots
        if folder is None:
            return []
        return sorted([*folder.glob("*.crt"), *folder.glob("*.pem")]) if folder.is_dir() else [folder]

    def _crl_files(self) -> list[Path]:
        folder = self.trust_roots
        found = sorted(folder.glob("*.crl")) if folder is not None and folder.is_dir() else []
        return [*found, *self.crl_paths]

    def _roots(self) -> list[x509.Certificate]:
        roots: list[x509.Certificate] = []
        for path in self._root_files():
            try:
                roots.extend(x509.load_pem_x509_certificates(path.read_bytes()))
            except (ValueError, OSError):
                logger.warning("not a PEM certificate among the trust roots: %s", path.name)
        return roots

    def _crls(self) -> list[x509.CertificateRevocationList]:
        crls = []
        for path in self._crl_files():
            try:
                raw = path.read_bytes()
                crls.append(x509.load_pem_x509_crl(raw) if raw.startswith(b"-----") else x509.load_der_x509_crl(raw))
            except (ValueError, OSError):
                logger.warning("unreadable revocation list: %s", path.name)
        return crls

    def _chain(self, cert: x509.Certificate, extra: list[x509.Certificate]) -> list[x509.Certificate]:
        """End certificate, intermediates from the file, then a configured root; else UntrustedError."""
        roots, chain = self._roots(), [cert]
        for _ in range(MAX_CHAIN):
            current = chain[-1]
            root = next((r for r in roots if _issued_by(current, r)), None)
            if root is not None:
                return [*chain, root]
            issuer = next((c for c in extra if c not in chain and _is_ca(c) and _issued_by(current, c)), None)
            if issuer is None:
                break
            chain.append(issuer)
        raise UntrustedError

    def _check_period(self, cert: x509.Certificate) -> None:
        now = self._clock.now()
        if now < cert.not_valid_before_utc:
            raise NotYetValidError
        if now > cert.not_valid_after_utc:
            raise ExpiredError

    @staticmethod
    def _check_key_usage(cert: x509.Certificate) -> None:
        try:
            usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
        except x509.ExtensionNotFound:
            raise KeyUsageError from None
        if not usage.digital_signature:
            raise KeyUsageError

    def _check_revocation(self, chain: list[x509.Certificate]) -> None:
        """Revoked on any of the issuer's lists (even a stale one) refuses; otherwise one of them must be current."""
        crls, now = self._crls(), self._clock.now()
        for cert, issuer in pairwise(chain):
            lists = [crl for crl in crls if crl.issuer == issuer.subject and _crl_signed_by(crl, issuer)]
            if any(crl.get_revoked_certificate_by_serial_number(cert.serial_number) is not None for crl in lists):
                raise RevokedError
            if lists and not any(_crl_current(crl, now) for crl in lists):
                logger.warning("revocation list of %s is past its nextUpdate", issuer.subject.rfc4514_string())
                raise StaleRevocationListError

    # -- binding ------------------------------------------------------------------------------

    def fingerprint_hash(self, cert: VerifiedCertificate) -> str:
        return self._vault.lookup_hash("cert", cert.fingerprint)

    async def owner(self, cert: VerifiedCertificate) -> int | None:
        """The account this certificate is bound to, if any."""
        query = select(AccountCertificate.account_id).where(
            AccountCertificate.fingerprint_hash == self.fingerprint_hash(cert))
        async with self._db.sessions() as session:
            return await session.scalar(query)

    async def bind(self, account_id: int, cert: VerifiedCertificate, claim: Claim | None) -> None:
        """Binds on first use (the claim must be the holder's and match the subject), sets the level high.

        A certificate already bound to this account needs no claim.
        """
        self._check_still_valid(cert)
        digest = self.fingerprint_hash(cert)
        try:
            async with self._db.transaction() as session:
                account = await session.get(Account, account_id)
                if account is None:
                    raise AccountNotFoundError
                bound_to = await session.scalar(select(AccountCertificate.account_id).where(
                    AccountCertificate.fingerprint_hash == digest))
                if bound_to is not None and bound_to != account_id:
                    raise BoundElsewhereError
                if bound_to is None:
                    self._check_identity(account, cert, claim)
                    session.add(AccountCertificate(account_id=account_id, fingerprint_hash=digest,
                                                   subject_masked=cert.subject_masked,
                                                   not_after=cert.not_after, bound_at=self._clock.now()))
                account.security_level = "high"
                await self._audit.record(session, "user", "account.level_high", account_id, method="certificate",
                                         first_use=bound_to is None)
        except IntegrityError:  # bound by someone else between the check and the insert
            raise BoundElsewhereError from None

    def _check_still_valid(self, cert: VerifiedCertificate) -> None:
        if self._clock.now() > as_utc(cert.not_after):
            raise ExpiredError

    def _check_identity(self, account: Account, cert: VerifiedCertificate, claim: Claim | None) -> None:
        held = Claim(self._vault.open(account.name_enc), account.id_type, self._vault.open(account.id_number_enc))
        if claim is None or _identity(claim) != _identity(held):
            raise NotHolderError
        if cert.subject_id_number is not None and cert.subject_id_number.strip().upper() != held.id_number.upper():
            raise SubjectMismatchError
        subject_name = normalize_name(cert.subject_name) if cert.subject_name else None
        if isinstance(subject_name, Ok) and subject_name.value != held.name:
            raise SubjectMismatchError


def _identity(claim: Claim) -> tuple[str, str, str]:
    kind = "0" if claim.id_type in RESIDENT_NUMBER_TYPES else claim.id_type
    return claim.name, kind, claim.id_number.upper()


def _issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    if cert.issuer != issuer.subject:
        return False
    try:
        cert.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return False


def _crl_current(crl: x509.CertificateRevocationList, now: datetime) -> bool:
    """RFC 5280 5.1.2.5: a list is current until nextUpdate; a list without one cannot be judged."""
    next_update = crl.next_update_utc
    return next_update is not None and now <= next_update


def _crl_signed_by(crl: x509.CertificateRevocationList, issuer: x509.Certificate) -> bool:
    try:
        return crl.is_signature_valid(issuer.public_key())  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False


def trust_config(services: Services) -> tuple[Path | None, tuple[Path, ...]]:
    """Roots and revocation lists: extras["cert_trust_roots"] (tests), then the settings
    (CREDITBOT_CERT_TRUST_ROOTS, CREDITBOT_CERT_CRLS); the sandbox CA only in the sandbox; else none."""
    settings = services.settings
    override = services.extras.get("cert_trust_roots")
    if override:
        return Path(override), settings.cert_crls
    if settings.cert_trust_roots is not None:
        return settings.cert_trust_roots, settings.cert_crls
    if settings.sandbox:
        return settings.data_dir / "sandbox_ca", settings.cert_crls
    return None, ()


def certificates_for(services: Services) -> CertificateService:
    """The service for a Services bundle, built once (see trust_config for its roots)."""
    service = services.extras.get("certificates")
    if service is None:
        roots, crls = trust_config(services)
        if roots is None:
            logger.warning("certificate verification unavailable: CREDITBOT_CERT_TRUST_ROOTS is not set")
        service = CertificateService(services.db, services.vault, services.clock, services.audit, roots, crls)
        services.extras["certificates"] = service
    return service  # type: ignore[no-any-return]
