"""The backend's error root and the business failures callers turn into user messages."""

from __future__ import annotations


class BackendError(Exception):
    """Root of every expected failure raised by backend services."""

    reason = "backend.error"

    def __init__(self, detail: str = "", **fields: object) -> None:
        self.fields = fields
        super().__init__(detail or self.reason)


class ConfigurationError(BackendError):
    reason = "config.invalid"


class CodeError(BackendError):
    reason = "code.error"


class CodeExpiredError(CodeError):
    reason = "code.expired"


class CodeMismatchError(CodeError):
    reason = "code.mismatch"


class CodeExhaustedError(CodeError):
    """Too many wrong tries: the code is void and a new one is needed."""

    reason = "code.exhausted"


class CodeNotIssuedError(CodeError):
    reason = "code.not_issued"


class ResendTooSoonError(CodeError):
    reason = "code.too_soon"

    def __init__(self, wait_seconds: int) -> None:
        super().__init__(f"wait {wait_seconds}s", wait_seconds=wait_seconds)
        self.wait_seconds = wait_seconds


class CaptchaError(BackendError):
    reason = "captcha.mismatch"


class AccountError(BackendError):
    reason = "account.error"


class IdentityTakenError(AccountError):
    reason = "account.identity_taken"


class LoginNameTakenError(AccountError):
    reason = "account.login_taken"


class PhoneTakenError(AccountError):
    reason = "account.phone_taken"


class BadCredentialsError(AccountError):
    reason = "account.bad_credentials"

    def __init__(self, remaining: int) -> None:
        super().__init__(f"{remaining} tries left", remaining=remaining)
        self.remaining = remaining


class AccountLockedError(AccountError):
    reason = "account.locked"

    def __init__(self, minutes: int) -> None:
        super().__init__(f"locked for {minutes} min", minutes=minutes)
        self.minutes = minutes


class AccountNotFoundError(AccountError):
    reason = "account.not_found"


class SecurityLevelError(AccountError):
    reason = "account.level_too_low"


class VerificationFailedError(BackendError):
    reason = "verification.failed"


class IdentityMismatchError(VerificationFailedError):
    """The verified identity is not the account holder's."""

    reason = "verification.not_holder"


class ReportNotFoundError(BackendError):
    reason = "report.not_found"


class ReportNotReadyError(BackendError):
    reason = "report.not_ready"


class ReportExpiredError(BackendError):
    reason = "report.expired"


class QuickQueryNotOpenError(BackendError):
    reason = "quick_query.not_open"
