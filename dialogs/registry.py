"""The flows this product offers; adding one is an import and a line."""

from __future__ import annotations

from dialogs.flows import bank_card, fetch_result, guide, login, my_requests, quick_query, register, request_report
from dialogs.forms import Form

FLOWS: tuple[Form, ...] = (
    register.FLOW,
    login.FLOW,
    guide.FLOW,
    bank_card.FLOW,
    quick_query.FLOW,
    request_report.FLOW,
    my_requests.FLOW,
    fetch_result.FLOW,
)


def flows_by_id() -> dict[str, Form]:
    return {flow.id: flow for flow in FLOWS}
