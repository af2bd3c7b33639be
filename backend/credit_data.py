"""A person's credit file (accounts, public records, queries), pure summaries of it, and its sources.

Sandbox fixture layout: ``data/fixtures/personas.json`` is a single JSON object::

    {
      "personas": {
        "<id_type>:<id_number>": {
          "person": {"name": ..., "id_type": ..., "id_number": ..., "phone": ...},
          "credit_file": {
            "cards":  [{"institution", "opened", "currency", "credit_limit", "balance",
                        "overdue_amount", "status_24m"}],
            "loans":  [{"institution", "kind", "opened", "amount", "balance",
                        "overdue_amount", "status_24m"}],
            "public_records": [{"kind", "authority", "date", "amount", "detail"}],
            "queries": [{"institution", "reason", "date"}]
          }
        }
      },
      "bank_cards": [{"card", "name", "id_type", "id_number", "phone"}]
    }

The ``id_type`` used by the fixtures is the name ``"resident_id"`` (居民身份证), so keys look like
``"resident_id:110105199003071239"``; an ID number's check character is stored upper-case.
Lookups also accept the platform's ID-type code (``"0"``, see ``backend.identity_rules.ID_TYPES``).
Dates are ISO ``YYYY-MM-DD``. Amounts are whole units (int) of the account's currency: a card's
``currency`` (``"CNY"``, ``"USD"``...); loans have no currency and are in yuan. ``bank_cards`` holds the four
elements a bank-card verification checks (card number, name, ID, reserved phone). Cards are
digits only and Luhn-valid. ``status_24m`` has 24 characters, one per month, oldest first:
``N`` normal, ``1``..``7`` months overdue, ``*`` no usage, ``C`` closed. An identity that is not
in ``personas`` gets ``EMPTY_FILE``: a real person with no credit history.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Literal, Protocol

from backend.identity_rules import ID_TYPES

STATUS_MONTHS = 24
STATUS_CODES = frozenset("N1234567*C")
OVERDUE_CODES = frozenset("1234567")
SEVERE_OVERDUE_CODES = frozenset("34567")  # three or more months overdue (over 90 days)
BAD_DEBT_CODE = "7"
CLOSED_CODE = "C"
HINT_YEARS = 5
# The real report's totals are in RMB. We have no exchange-rate source, so amounts in any other
# currency are never added into them: they are summed per currency on their own.
DOMESTIC_CURRENCY = "CNY"
_ID_TYPE_NAMES = dict(ID_TYPES)  # platform code -> name, e.g. "0" -> "resident_id"
QUERY_YEARS = 2

LoanKind = Literal["mortgage", "other"]
PublicRecordKind = Literal["court_judgment", "tax_arrears", "enforcement"]
AccountState = Literal["normal", "overdue", "closed", "bad_debt"]


def _check_status(status_24m: str) -> None:
    if len(status_24m) != STATUS_MONTHS or not set(status_24m) <= STATUS_CODES:
        msg = f"status_24m must be {STATUS_MONTHS} characters from {''.join(sorted(STATUS_CODES))}: {status_24m!r}"
        raise ValueError(msg)


@dataclass(frozen=True)
class Person:
    name: str
    id_type: str
    id_number: str
    phone: str


@dataclass(frozen=True)
class CardAccount:
    institution: str
    opened: date
    currency: str
    credit_limit: int
    balance: int
    overdue_amount: int
    status_24m: str

    def __post_init__(self) -> None:
        _check_status(self.status_24m)


@dataclass(frozen=True)
class LoanAccount:
    institution: str
    kind: LoanKind
    opened: date
    amount: int
    balance: int
    overdue_amount: int
    status_24m: str

    def __post_init__(self) -> None:
        _check_status(self.status_24m)


Account = CardAccount | LoanAccount


@dataclass(frozen=True)
class PublicRecord:
    kind: PublicRecordKind
    authority: str
    date: date
    amount: int
    detail: str


@dataclass(frozen=True)
class QueryRecord:
    institution: str
    reason: str
    date: date


@dataclass(frozen=True)
class CreditFile:
    cards: tuple[CardAccount, ...] = ()
    loans: tuple[LoanAccount, ...] = ()
    public_records: tuple[PublicRecord, ...] = ()
    queries: tuple[QueryRecord, ...] = ()


EMPTY_FILE = CreditFile()


@dataclass(frozen=True)
class CurrencyTotals:
    """Sums of one currency's accounts; ``total_amount`` as in ``AccountTotals``."""

    currency: str
    total_amount: int
    total_balance: int
    total_overdue: int


@dataclass(frozen=True)
class AccountTotals:
    """Counts and sums for one account type.

    The counts cover accounts in every currency. The sums are in yuan and cover only CNY accounts;
    ``foreign`` holds the sums of each other currency (by currency code), since adding dollars to
    yuan without a rate would be wrong. ``total_amount`` is the credit limit for cards and the
    principal for loans.
    """

    accounts: int
    active_accounts: int
    overdue_accounts: int
    overdue_90d_accounts: int
    total_amount: int
    total_balance: int
    total_overdue: int
    foreign: tuple[CurrencyTotals, ...] = ()


@dataclass(frozen=True)
class CreditSummary:
    cards: AccountTotals
    mortgages: AccountTotals
    other_loans: AccountTotals
    public_records: int
    queries_2y: int


@dataclass(frozen=True)
class CreditHint:
    has_overdue_5y: bool
    has_adverse_5y: bool
    overdue_accounts: int
    public_records: int


# --- pure decisions --------------------------------------------------------------------------


def is_closed(account: Account) -> bool:
    return account.status_24m[-1] == CLOSED_CODE


def is_overdue(account: Account) -> bool:
    """True if the account is overdue now or was overdue in any month of its 24-month window."""
    return account.overdue_amount > 0 or not OVERDUE_CODES.isdisjoint(account.status_24m)


def is_severely_overdue(account: Account) -> bool:
    return not SEVERE_OVERDUE_CODES.isdisjoint(account.status_24m)


def build_account_state(account: Account) -> AccountState:
    if is_closed(account):
        return "closed"
    if account.status_24m[-1] == BAD_DEBT_CODE:
        return "bad_debt"
    return "overdue" if account.overdue_amount > 0 else "normal"


def years_before(day: date, years: int) -> date:
    # 29 February has no counterpart in most years; fall back to 28 February.
    try:
        return day.replace(year=day.year - years)
    except ValueError:
        return day.replace(year=day.year - years, day=28)


def _limit(account: Account) -> int:
    return account.credit_limit if isinstance(account, CardAccount) else account.amount


def currency_of(account: Account) -> str:
    # Loans carry no currency in the file: they are all in yuan.
    return account.currency if isinstance(account, CardAccount) else DOMESTIC_CURRENCY


def build_currency_totals(currency: str, accounts: Iterable[Account]) -> CurrencyTotals:
    """Sums of the accounts in ``currency``; the others are skipped."""
    items = [a for a in accounts if currency_of(a) == currency]
    return CurrencyTotals(
        currency=currency,
        total_amount=sum(_limit(a) for a in items),
        total_balance=sum(a.balance for a in items),
        total_overdue=sum(a.overdue_amount for a in items),
    )


def build_totals(accounts: Iterable[Account]) -> AccountTotals:
    items = list(accounts)
    domestic = build_currency_totals(DOMESTIC_CURRENCY, items)
    foreign = sorted({currency_of(a) for a in items} - {DOMESTIC_CURRENCY})
    return AccountTotals(
        accounts=len(items),
        active_accounts=sum(not is_closed(a) for a in items),
        overdue_accounts=sum(is_overdue(a) for a in items),
        overdue_90d_accounts=sum(is_severely_overdue(a) for a in items),
        total_amount=domestic.total_amount,
        total_balance=domestic.total_balance,
        total_overdue=domestic.total_overdue,
        foreign=tuple(build_currency_totals(currency, items) for currency in foreign),
    )


def build_summary(file: CreditFile, today: date) -> CreditSummary:
    """Totals per account type, the public record count and queries since ``today`` minus 2 years."""
    since = years_before(today, QUERY_YEARS)
    return CreditSummary(
        cards=build_totals(file.cards),
        mortgages=build_totals(a for a in file.loans if a.kind == "mortgage"),
        other_loans=build_totals(a for a in file.loans if a.kind == "other"),
        public_records=len(file.public_records),
        queries_2y=sum(since < q.date <= today for q in file.queries),
    )


def build_hint(file: CreditFile, today: date) -> CreditHint:
    """The 个人信用信息提示 facts.

    Account statuses cover the last 24 months, which lies inside the five-year window.
    "Adverse" means three or more months overdue (which includes bad debt) or a public
    record dated within the last five years.
    """
    since = years_before(today, HINT_YEARS)
    accounts: list[Account] = [*file.cards, *file.loans]
    records = sum(since < r.date <= today for r in file.public_records)
    overdue = sum(is_overdue(a) for a in accounts)
    severe = any(is_severely_overdue(a) for a in accounts)
    return CreditHint(
        has_overdue_5y=overdue > 0,
        has_adverse_5y=severe or records > 0,
        overdue_accounts=overdue,
        public_records=records,
    )


# --- parsing the sandbox JSON ----------------------------------------------------------------


@dataclass(frozen=True)
class Persona:
    person: Person
    file: CreditFile


@dataclass(frozen=True)
class SandboxBankCard:
    card: str
    name: str
    id_type: str
    id_number: str
    phone: str


@dataclass(frozen=True)
class SandboxData:
    personas: Mapping[str, Persona]
    bank_cards: tuple[SandboxBankCard, ...]


def canonical_id_type(id_type: str) -> str:
    """The fixture's ID-type name for a platform code ("0" -> "resident_id"); names pass through."""
    return _ID_TYPE_NAMES.get(id_type, id_type)


def build_identity_key(id_type: str, id_number: str) -> str:
    return f"{canonical_id_type(id_type)}:{id_number.strip().upper()}"


def _dated(raw: Mapping[str, Any], field: str) -> dict[str, Any]:
    return {**raw, field: date.fromisoformat(raw[field])}


def parse_credit_file(raw: Mapping[str, Any]) -> CreditFile:
    return CreditFile(
        cards=tuple(CardAccount(**_dated(c, "opened")) for c in raw.get("cards", ())),
        loans=tuple(LoanAccount(**_dated(c, "opened")) for c in raw.get("loans", ())),
        public_records=tuple(PublicRecord(**_dated(r, "date")) for r in raw.get("public_records", ())),
        queries=tuple(QueryRecord(**_dated(q, "date")) for q in raw.get("queries", ())),
    )


def parse_sandbox(raw: Mapping[str, Any]) -> SandboxData:
    personas = {
        key: Persona(person=Person(**entry["person"]), file=parse_credit_file(entry["credit_file"]))
        for key, entry in raw["personas"].items()
    }
    cards = tuple(SandboxBankCard(**c) for c in raw.get("bank_cards", ()))
    return SandboxData(personas=personas, bank_cards=cards)


def load_sandbox(path: Path) -> SandboxData:
    return parse_sandbox(json.loads(path.read_text(encoding="utf-8")))


# --- sources -----------------------------------------------------------------------------------


class CreditDataSource(Protocol):
    async def load(self, id_type: str, id_number: str) -> CreditFile: ...


class SandboxCreditData:
    """A ``CreditDataSource`` backed by the personas fixture file (read once, on first use)."""

    def __init__(self, path: Path | str) -> None:
        self._path = Path(path)
        self._data: SandboxData | None = None

    async def _sandbox(self) -> SandboxData:
        if self._data is None:
            self._data = await asyncio.to_thread(load_sandbox, self._path)
        return self._data

    async def load(self, id_type: str, id_number: str) -> CreditFile:
        persona = (await self._sandbox()).personas.get(build_identity_key(id_type, id_number))
        return persona.file if persona else EMPTY_FILE

    async def load_person(self, id_type: str, id_number: str) -> Person | None:
        persona = (await self._sandbox()).personas.get(build_identity_key(id_type, id_number))
        return persona.person if persona else None

    async def load_bank_cards(self) -> tuple[SandboxBankCard, ...]:
        return (await self._sandbox()).bank_cards
