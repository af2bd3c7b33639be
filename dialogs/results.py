"""Hands a ready result to the person: the hint or summary as text, and every product as a PDF."""

from __future__ import annotations

from collections.abc import Mapping

from backend.accounts import AccountView
from backend.credit_data import AccountTotals, CreditFile, Person
from backend.queries import RequestView
from backend.reports import ReportData, build_report_data, render_report_async, report_password
from dialogs import texts
from dialogs.catalog import Translator
from dialogs.context import Ctx
from dialogs.types import Button, Document, Text, Typing

FILE_NAMES = {"hint": "个人信用信息提示", "summary": "个人信用信息概要", "report": "个人信用报告"}
# Catalog keys of the foreign currencies we can name; any other is shown by its ISO code.
CURRENCY_KEYS: Mapping[str, str] = {"USD": "currency.usd", "EUR": "currency.eur", "HKD": "currency.hkd"}


def build_filename(product: str, report_number: str) -> str:
    """Chinese, meaningful, without the person's name (B13): safe in any client and in shared folders."""
    return f"{FILE_NAMES[product]}_{report_number}.pdf"


async def deliver(ctx: Ctx, request: RequestView, account: AccountView) -> None:
    ctx.add(Typing("upload_document"))
    services = ctx.services
    file = await services.credit.load(account.id_type, account.id_number)
    person = Person(name=account.name, id_type=account.id_type, id_number=account.id_number, phone=account.phone)
    data = build_report_data(person, file, product=request.product, report_number=request.report_number,
                             query_time=ctx.now)
    # Encrypted for a password the person knows (issue 3); the message says where it comes from, never what it is.
    pdf = await render_report_async(data, fonts=services.fonts, password=report_password(account.id_number))
    ctx.add(Text(build_text(ctx, request.product, file, data), private=True))
    caption = ctx.t("result.caption", product=ctx.t(f"product.{request.product}"),
                    report_number=request.report_number)
    ctx.add(Document(pdf, build_filename(request.product, request.report_number),
                     f"{caption}\n{ctx.t('result.pdf_password')}"))
    await services.queries.mark_delivered(request.id)
    expires = request.expires_at or ctx.now
    ctx.add(Text(ctx.t("result.more", expires=texts.format_time(ctx, expires)),
                 (Button(ctx.t("menu.my_requests"), "/my_requests"), Button(ctx.t("menu.menu"), "/menu"))))


def build_text(ctx: Ctx, product: str, file: CreditFile, data: ReportData) -> str:
    if product == "hint":
        return build_hint_text(ctx.t, file, data)
    if product == "summary":
        return _summary_text(ctx, data)
    return ctx.t("result.report")


def build_hint_text(t: Translator, file: CreditFile, data: ReportData) -> str:
    """The hint in one sentence; also texted as is to those who asked for it by SMS."""
    hint = data.hint
    if not (file.cards or file.loans or file.public_records):
        return t("result.hint_empty")
    if hint.has_overdue_5y or hint.has_adverse_5y:
        return t("result.hint_issues", overdue=hint.overdue_accounts, records=hint.public_records)
    return t("result.hint_clean")


def _summary_text(ctx: Ctx, data: ReportData) -> str:
    s = data.summary
    return ctx.t("result.summary", cards=s.cards.accounts, cards_overdue=s.cards.overdue_accounts,
                 card_limit=_amount(s.cards.total_amount), card_used=_amount(s.cards.total_balance),
                 card_foreign=build_foreign_lines(ctx.t, s.cards),
                 mortgages=s.mortgages.accounts, mortgages_overdue=s.mortgages.overdue_accounts,
                 mortgage_balance=_amount(s.mortgages.total_balance), loans=s.other_loans.accounts,
                 loans_overdue=s.other_loans.overdue_accounts, loan_balance=_amount(s.other_loans.total_balance),
                 records=s.public_records, queries=s.queries_2y)


def build_foreign_lines(t: Translator, totals: AccountTotals) -> str:
    """The foreign-currency sums that the yuan totals leave out, one line per currency.

    Each line starts with a line break, so the text slots in right after the yuan totals; it is
    empty when every account is in yuan. Also used by the Rasa actions.
    """
    return "".join("\n" + t("result.summary_foreign", currency=currency_name(t, f.currency),
                             limit=_amount(f.total_amount), used=_amount(f.total_balance))
                   for f in totals.foreign)


def currency_name(t: Translator, code: str) -> str:
    key = CURRENCY_KEYS.get(code)
    return t(key) if key else code


def _amount(amount: int) -> str:
    # Whole units of the account's currency (yuan for the main totals).
    return f"{amount:,}"
