"""A ready result as Rasa messages: the hint or summary as a response, and every product as a PDF link.

The PDF goes into the file store behind an unguessable, expiring link served by `creditbot serve`
(`GET /files/<token>`), the same way the REST channel hands out files.
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.replies import format_time, translator
from backend.accounts import AccountView
from backend.credit_data import CreditFile, Person
from backend.queries import RequestView
from backend.reports import ReportData, build_report_data, render_report_async
from backend.services import Services
from dialogs.catalog import Translator
from dialogs.results import build_filename, build_foreign_lines

PDF = "application/pdf"


async def deliver(services: Services, dispatcher: CollectingDispatcher, tracker: Tracker, request: RequestView,
                  account: AccountView) -> None:
    file = await services.credit.load(account.id_type, account.id_number)
    person = Person(name=account.name, id_type=account.id_type, id_number=account.id_number, phone=account.phone)
    data = build_report_data(person, file, product=request.product, report_number=request.report_number,
                             query_time=services.clock.now())
    pdf = await render_report_async(data, fonts=services.fonts)
    response, params = build_text(request.product, file, data, translator(tracker))
    dispatcher.utter_message(response=response, **params)
    filename = build_filename(request.product, request.report_number)
    token = await services.files.put(request.conversation_id, filename, PDF, pdf)
    attachment = {"type": "file", "url": f"{services.settings.base_url}/files/{token}", "filename": filename,
                  "mime": PDF}
    dispatcher.utter_message(response="utter_result_document", attachment=attachment,
                             product_name=translator(tracker)(f"product.{request.product}"),
                             report_number=request.report_number)
    await services.queries.mark_delivered(request.id)
    expires = request.expires_at or services.clock.now()
    dispatcher.utter_message(response="utter_result_more", expires=format_time(expires))


def build_text(product: str, file: CreditFile, data: ReportData, t: Translator) -> tuple[str, dict[str, Any]]:
    """The response (and its values) that tells the result in words; the full report is only the PDF."""
    if product == "hint":
        return build_hint_text(file, data)
    if product == "summary":
        return "utter_result_summary", build_summary_params(data, t)
    return "utter_result_report", {}


def build_hint_text(file: CreditFile, data: ReportData) -> tuple[str, dict[str, Any]]:
    hint = data.hint
    if not (file.cards or file.loans or file.public_records):
        return "utter_result_hint_empty", {}
    if hint.has_overdue_5y or hint.has_adverse_5y:
        return "utter_result_hint_issues", {"overdue": hint.overdue_accounts, "records": hint.public_records}
    return "utter_result_hint_clean", {}


def build_summary_params(data: ReportData, t: Translator) -> dict[str, Any]:
    """The yuan totals, and the foreign-currency lines (in the person's language) that they leave out."""
    s = data.summary
    return {"cards": s.cards.accounts, "cards_overdue": s.cards.overdue_accounts,
            "card_limit": f"{s.cards.total_amount:,}", "card_used": f"{s.cards.total_balance:,}",
            "card_foreign": build_foreign_lines(t, s.cards),
            "mortgages": s.mortgages.accounts, "mortgages_overdue": s.mortgages.overdue_accounts,
            "mortgage_balance": f"{s.mortgages.total_balance:,}", "loans": s.other_loans.accounts,
            "loans_overdue": s.other_loans.overdue_accounts, "loan_balance": f"{s.other_loans.total_balance:,}",
            "records": s.public_records, "queries": s.queries_2y}
