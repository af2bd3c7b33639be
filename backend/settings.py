"""Settings read once from the environment at the entry points, then passed down."""

from __future__ import annotations

import base64
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from backend.errors import ConfigurationError

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_VAR = REPO_ROOT / "var"


class Secret:
    """A string that never shows itself in logs or reprs."""

    def __init__(self, value: str) -> None:
        self._value = value

    def __repr__(self) -> str:
        return "Secret('**********')"

    __str__ = __repr__

    def reveal(self) -> str:
        return self._value

    def __bool__(self) -> bool:
        return bool(self._value)


Env = Literal["sandbox", "production"]


@dataclass(frozen=True)
class Settings:
    env: Env = "sandbox"
    database_url: str = ""
    redis_url: str | None = None
    encryption_key: Secret = field(default_factory=lambda: Secret(""))
    host: str = "127.0.0.1"
    port: int = 8080
    public_url: str = ""
    report_delay_seconds: int = 24 * 3600
    result_retention_seconds: int = 7 * 24 * 3600
    code_ttl_seconds: int = 300
    code_max_failures: int = 5
    # Authenticator-app codes: 30-second steps accepted this many steps either side of ours (B34).
    totp_window: int = 1
    code_resend_seconds: int = 60
    login_idle_seconds: int = 30 * 60
    login_max_failures: int = 5
    login_lock_seconds: int = 15 * 60
    conversation_ttl_seconds: int = 7 * 24 * 3600
    flow_timeout_seconds: int = 600
    dispatch_interval_seconds: float = 1.0
    dispatch_lease_seconds: int = 300
    captcha_test_answer: str | None = None
    telegram_token: Secret | None = None
    telegram_base_url: str | None = None
    telegram_base_file_url: str | None = None
    telegram_webhook_url: str | None = None
    telegram_webhook_secret: Secret | None = None
    telegram_pool_size: int = 32
    sms_service_number: str = "106980008899"
    # Shared with the SMS gateway: POST /sms/inbound must carry an HMAC-SHA256 signature made with it.
    sms_webhook_secret: Secret | None = None
    # Shared with the system that speaks the REST channel: every request must carry
    # "Authorization: Bearer <token>". Unset: the channel is open in the sandbox and off in production.
    rest_token: Secret | None = None
    # Addresses of reverse proxies whose X-Forwarded-For / -Proto are believed; empty: nobody's.
    trusted_proxies: tuple[str, ...] = ()
    data_dir: Path = REPO_ROOT / "data"
    var_dir: Path = DEFAULT_VAR
    log_level: str = "INFO"
    rasa_nlu_url: str | None = None
    actions_port: int = 5055
    # Certificate trust: a PEM file of CA certificates and revocation lists (PEM or DER). Unset: the
    # sandbox CA in data/sandbox_ca in the sandbox; outside it, certificate verification is off.
    cert_trust_roots: Path | None = None
    cert_crls: tuple[Path, ...] = ()
    handoff_wait_seconds: int = 300
    webchat_new_per_address: int = 300  # new web conversations per client address and 10 minutes
    agent_session_seconds: int = 8 * 3600
    agent_idle_seconds: int = 30 * 60
    transcript_retention_seconds: int = 30 * 24 * 3600

    @property
    def sandbox(self) -> bool:
        return self.env == "sandbox"

    @property
    def base_url(self) -> str:
        return self.public_url or f"http://{self.host}:{self.port}"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        return _build(env)


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw in (None, ""):
        return default
    try:
        return int(raw)
    except ValueError:
        msg = f"{name} must be an integer"
        raise ConfigurationError(msg) from None


def _opt(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name, "").strip()
    return value or None


def _secret(env: Mapping[str, str], name: str) -> Secret | None:
    value = _opt(env, name)
    return Secret(value) if value else None


def _files(env: Mapping[str, str], name: str, *, single: bool = False) -> tuple[Path, ...]:
    """Existing files named by `name` (several separated by os.pathsep unless `single`)."""
    raw = env.get(name, "").strip()
    parts = [raw] if single else raw.split(os.pathsep)
    paths = tuple(Path(part.strip()) for part in parts if part.strip())
    for path in paths:
        if not path.is_file():
            msg = f"{name}: no such file: {path}"
            raise ConfigurationError(msg)
    return paths


def _build(env: Mapping[str, str]) -> Settings:
    mode = env.get("CREDITBOT_ENV", "sandbox")
    if mode not in ("sandbox", "production"):
        msg = "CREDITBOT_ENV must be sandbox or production"
        raise ConfigurationError(msg)
    var_dir = Path(env.get("CREDITBOT_VAR_DIR", str(DEFAULT_VAR)))
    key = _encryption_key(env, mode, var_dir)
    db_url = env.get("DATABASE_URL") or f"sqlite+aiosqlite:///{var_dir / 'creditbot.db'}"
    return Settings(
        env=mode,  # type: ignore[arg-type]
        database_url=normalise_db_url(db_url),
        redis_url=_opt(env, "REDIS_URL"),
        encryption_key=key,
        host=env.get("CREDITBOT_HOST", "127.0.0.1"),
        port=_int(env, "CREDITBOT_PORT", 8080),
        public_url=env.get("CREDITBOT_PUBLIC_URL", "").rstrip("/"),
        report_delay_seconds=_int(env, "CREDITBOT_REPORT_DELAY", 24 * 3600),
        flow_timeout_seconds=_int(env, "CREDITBOT_FLOW_TIMEOUT", 600),
        captcha_test_answer=_opt(env, "CREDITBOT_CAPTCHA_TEST_ANSWER") if mode == "sandbox" else None,
        telegram_token=_secret(env, "TELEGRAM_BOT_TOKEN"),
        telegram_base_url=_opt(env, "TELEGRAM_BASE_URL"),
        telegram_base_file_url=_opt(env, "TELEGRAM_BASE_FILE_URL"),
        telegram_webhook_url=_opt(env, "TELEGRAM_WEBHOOK_URL"),
        telegram_webhook_secret=_secret(env, "TELEGRAM_WEBHOOK_SECRET"),
        telegram_pool_size=_int(env, "TELEGRAM_POOL_SIZE", 32),
        rasa_nlu_url=_opt(env, "RASA_NLU_URL"),
        sms_webhook_secret=_secret(env, "CREDITBOT_SMS_WEBHOOK_SECRET"),
        rest_token=_secret(env, "CREDITBOT_REST_TOKEN"),
        totp_window=_int(env, "CREDITBOT_TOTP_WINDOW", 1),
        trusted_proxies=tuple(a.strip() for a in env.get("CREDITBOT_TRUSTED_PROXIES", "").split(",") if a.strip()),
        actions_port=_int(env, "CREDITBOT_ACTIONS_PORT", 5055),
        cert_trust_roots=next(iter(_files(env, "CREDITBOT_CERT_TRUST_ROOTS", single=True)), None),
        cert_crls=_files(env, "CREDITBOT_CERT_CRLS"),
        handoff_wait_seconds=_int(env, "CREDITBOT_HANDOFF_WAIT", 300),
        webchat_new_per_address=_int(env, "CREDITBOT_WEBCHAT_NEW_PER_ADDRESS", 300),
        agent_session_seconds=_int(env, "CREDITBOT_AGENT_SESSION", 8 * 3600),
        agent_idle_seconds=_int(env, "CREDITBOT_AGENT_IDLE", 30 * 60),
        dispatch_interval_seconds=float(env.get("CREDITBOT_DISPATCH_INTERVAL", "1.0")),
        var_dir=var_dir,
        log_level=env.get("CREDITBOT_LOG_LEVEL", "INFO"),
    )


def normalise_db_url(url: str) -> str:
    """Accept the plain driver names people paste and pick the async drivers."""
    for plain, async_ in (("postgresql://", "postgresql+asyncpg://"), ("postgres://", "postgresql+asyncpg://"),
                          ("sqlite:///", "sqlite+aiosqlite:///")):
        if url.startswith(plain):
            return async_ + url[len(plain):]
    return url


def _encryption_key(env: Mapping[str, str], mode: str, var_dir: Path) -> Secret:
    raw = _opt(env, "CREDITBOT_ENCRYPTION_KEY")
    if raw:
        return Secret(raw)
    if mode == "production":
        msg = "CREDITBOT_ENCRYPTION_KEY is required in production"
        raise ConfigurationError(msg)
    return Secret(_sandbox_key(var_dir))


def _sandbox_key(var_dir: Path) -> str:
    """The sandbox makes its own key on first run and keeps it beside its database."""
    path = var_dir / "encryption.key"
    if path.exists():
        return path.read_text().strip()
    var_dir.mkdir(parents=True, exist_ok=True)
    key = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(key)
    return key
