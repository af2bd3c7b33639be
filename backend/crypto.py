"""Encryption at rest (AES-GCM) and keyed lookup hashes for personal data; argon2 for passwords."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from backend.errors import ConfigurationError

_NONCE = 12


class Vault:
    """Seals personal data with one master key; derives separate keys for encryption and lookup."""

    def __init__(self, master_key: str) -> None:
        raw = _decode_key(master_key)
        self._aead = AESGCM(_derive(raw, b"creditbot/encrypt"))
        self._hmac_key = _derive(raw, b"creditbot/lookup")

    def seal(self, plain: str) -> str:
        nonce = secrets.token_bytes(_NONCE)
        blob = nonce + self._aead.encrypt(nonce, plain.encode(), None)
        return base64.urlsafe_b64encode(blob).decode()

    def open(self, sealed: str) -> str:
        blob = base64.urlsafe_b64decode(sealed.encode())
        return self._aead.decrypt(blob[:_NONCE], blob[_NONCE:], None).decode()

    def lookup_hash(self, kind: str, value: str) -> str:
        """Deterministic keyed hash, so equal values can be found without storing them in clear."""
        message = f"{kind}:{value}".encode()
        return hmac.new(self._hmac_key, message, hashlib.sha256).hexdigest()


def _decode_key(master_key: str) -> bytes:
    try:
        raw = base64.urlsafe_b64decode(master_key.encode() + b"=" * (-len(master_key) % 4))
    except ValueError:
        raw = b""
    if len(raw) < 32:
        msg = "the encryption key must be 32 bytes, url-safe base64"
        raise ConfigurationError(msg)
    return raw


def _derive(raw: bytes, label: bytes) -> bytes:
    return hmac.new(raw, label, hashlib.sha256).digest()


class Passwords:
    """argon2id hashing; parameters from argon2-cffi's RFC 9106 low-memory profile."""

    def __init__(self) -> None:
        self._hasher = PasswordHasher()

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify(self, hashed: str, password: str) -> bool:
        try:
            return self._hasher.verify(hashed, password)
        except (VerificationError, InvalidHashError):
            return False


def digest_code(code: str, salt: str) -> str:
    return hashlib.sha256(f"{salt}:{code}".encode()).hexdigest()


def codes_equal(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())
