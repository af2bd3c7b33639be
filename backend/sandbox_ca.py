"""The sandbox certificate authority: build it once, issue PKCS#12 test certificates, revoke them.

Run `python -m backend.sandbox_ca [folder]` to (re)build the CA in data/sandbox_ca when it is missing.
The CA key sits beside the certificate on purpose: it signs only sandbox test certificates and
is trusted only by sandbox deployments (see data/sandbox_ca/README.md).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

from backend.certificates import legacy_password_bytes
from backend.settings import REPO_ROOT

DEFAULT_DIR = REPO_ROOT / "data" / "sandbox_ca"
CA_CERT, CA_KEY, CA_CRL = "ca.crt", "ca.key", "ca.crl"
CA_NAME = "CreditBot Sandbox Root CA"
CA_NOT_BEFORE = datetime(2025, 1, 1, tzinfo=UTC)
CA_YEARS = 30
CRL_YEARS = 10


@dataclass(frozen=True)
class Authority:
    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _new_authority(common_name: str, not_before: datetime, years: int) -> Authority:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "CreditBot Sandbox"),
                      x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(not_before)
            .not_valid_after(not_before + timedelta(days=365 * years))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                         crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256()))
    return Authority(cert, key)


def _write_crl(folder: Path, ca: Authority, revoked: list[x509.RevokedCertificate], now: datetime) -> None:
    builder = (x509.CertificateRevocationListBuilder().issuer_name(ca.cert.subject)
               .last_update(now).next_update(now + timedelta(days=365 * CRL_YEARS)))
    for entry in revoked:
        builder = builder.add_revoked_certificate(entry)
    crl = builder.sign(ca.key, hashes.SHA256())
    (folder / CA_CRL).write_bytes(crl.public_bytes(serialization.Encoding.PEM))


def build_ca(folder: Path = DEFAULT_DIR, *, common_name: str = CA_NAME, now: datetime | None = None) -> Authority:
    """Writes ca.crt, ca.key (unencrypted, sandbox only) and an empty ca.crl into `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    ca = _new_authority(common_name, CA_NOT_BEFORE, CA_YEARS)
    (folder / CA_CERT).write_bytes(ca.cert.public_bytes(serialization.Encoding.PEM))
    (folder / CA_KEY).write_bytes(ca.key.private_bytes(serialization.Encoding.PEM,
                                                       serialization.PrivateFormat.PKCS8,
                                                       serialization.NoEncryption()))
    _write_crl(folder, ca, [], now or _utcnow())
    return ca


def load_ca(folder: Path = DEFAULT_DIR) -> Authority:
    cert = x509.load_pem_x509_certificate((folder / CA_CERT).read_bytes())
    key = serialization.load_pem_private_key((folder / CA_KEY).read_bytes(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise TypeError("the sandbox CA key must be an EC key")
    return Authority(cert, key)


def issue_certificate(folder: Path = DEFAULT_DIR, *, name: str, id_number: str, password: str,
                      now: datetime | None = None, days: int = 365, expired: bool = False,
                      other_ca: bool = False, key_usage: bool = True, password_encoding: str = "utf-8",
                      ) -> bytes:
    """A PKCS#12 file (key + certificate + CA) for a sandbox persona: CN = name, serialNumber = ID number.

    `other_ca` signs with a throw-away CA of the same name (never trusted); `password_encoding`
    imitates exporters that used GB18030 or UTF-16-BE bytes for a non-ASCII password (case B45).
    """
    now = now or _utcnow()
    ca = _new_authority(CA_NAME, CA_NOT_BEFORE, CA_YEARS) if other_ca else load_ca(folder)
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
                         x509.NameAttribute(NameOID.COMMON_NAME, name),
                         x509.NameAttribute(NameOID.SERIAL_NUMBER, id_number)])
    not_before, not_after = (now - timedelta(days=400), now - timedelta(days=1)) if expired else \
        (now - timedelta(days=1), now + timedelta(days=days))
    builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(ca.cert.subject)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(not_before).not_valid_after(not_after)
               .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True))
    if key_usage:
        builder = builder.add_extension(
            x509.KeyUsage(digital_signature=True, content_commitment=True, key_encipherment=False,
                          data_encipherment=False, key_agreement=False, key_cert_sign=False, crl_sign=False,
                          encipher_only=False, decipher_only=False), critical=True)
    cert = builder.sign(ca.key, hashes.SHA256())
    secret = legacy_password_bytes(password, password_encoding)
    return pkcs12.serialize_key_and_certificates(name.encode("utf-8"), key, cert, [ca.cert],
                                                 serialization.BestAvailableEncryption(secret))


def revoke(folder: Path, serial: int, now: datetime | None = None) -> None:
    """Adds a serial number to the CA's revocation list (re-signed; earlier entries kept)."""
    now = now or _utcnow()
    ca = load_ca(folder)
    path = folder / CA_CRL
    old = list(x509.load_pem_x509_crl(path.read_bytes())) if path.exists() else []
    entry = x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(now).build()
    _write_crl(folder, ca, [*old, entry], now)


def certificate_of(p12: bytes, password: str) -> x509.Certificate:
    """The end-entity certificate inside a PKCS#12 file (tests use it to revoke what they issued)."""
    _, cert, _ = pkcs12.load_key_and_certificates(p12, password.encode("utf-8"))
    if cert is None:
        raise ValueError("no certificate in this PKCS#12 file")
    return cert


def main(argv: list[str]) -> int:
    folder = Path(argv[0]) if argv else DEFAULT_DIR
    if (folder / CA_CERT).exists():
        print(f"{folder} already holds a CA; delete it first to build a new one")
        return 1
    build_ca(folder)
    print(f"sandbox CA written to {folder}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
