"""The flows this product offers; adding one is an import and a line."""

from __future__ import annotations

from dialogs.flows import (
    authenticator,
    bank_card,
    certificate,
    change_phone,
    close_account,
    fetch_result,
    guide,
    login,
    my_account,
    my_requests,
    question_verify,
    quick_query,
    recover_login,
    register,
    request_report,
    reset_password,
    verify_identity,
)
from dialogs.forms import Form

FLOWS: tuple[Form, ...] = (
    register.FLOW,
    login.FLOW,
    guide.FLOW,
    bank_card.FLOW,
    certificate.FLOW,
    quick_query.FLOW,
    request_report.FLOW,
    my_requests.FLOW,
    fetch_result.FLOW,
    verify_identity.FLOW,
    change_phone.FLOW,
    reset_password.FLOW,
    recover_login.FLOW,
    close_account.FLOW,
    my_account.FLOW,
    question_verify.FLOW,
    authenticator.FLOW,
)


def flows_by_id() -> dict[str, Form]:
    """Keyed by id; the certificate checks for someone not logged in share the certificate flow's texts."""
    return {**{flow.id: flow for flow in FLOWS}, certificate.FOR_ACCOUNT: certificate.FLOW_FOR_ACCOUNT}
