from __future__ import annotations

from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest

from backend.credit_data import (
    EMPTY_FILE,
    AccountTotals,
    CurrencyTotals,
    CardAccount,
    CreditFile,
    CreditHint,
    LoanAccount,
    QueryRecord,
    SandboxCreditData,
    build_account_state,
    build_hint,
    build_summary,
    load_sandbox,
    years_before,
)

PERSONAS = Path(__file__).resolve().parents[2] / "data" / "fixtures" / "personas.json"
TODAY = date(2026, 12, 4)
RID = "resident_id"
P1, P2, P3, P4, P5, P6 = ("110105199003071239", "11010519691231007X", "510107198712030010",
                          "650102199506012464", "110101198001010061", "110101198001010010")
ZERO = AccountTotals(0, 0, 0, 0, 0, 0, 0)
ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK = "10X98765432"


def id_number_is_valid(number: str) -> bool:
    total = sum(int(d) * w for d, w in zip(number[:17], ID_WEIGHTS, strict=True))
    return len(number) == 18 and ID_CHECK[total % 11] == number[17]


def luhn_is_valid(card: str) -> bool:
    digits = [int(c) for c in reversed(card)]
    doubled = [d * 2 - 9 if d * 2 > 9 else d * 2 for d in digits[1::2]]
    return (sum(digits[::2]) + sum(doubled)) % 10 == 0


@pytest.fixture(scope="module")
def sandbox():
    return load_sandbox(PERSONAS)


def persona_file(sandbox, id_number: str) -> CreditFile:
    return sandbox.personas[f"{RID}:{id_number}"].file


# --- fixture data hygiene -----------------------------------------------------------------------


def test_fixture_has_the_six_personas_keyed_by_identity(sandbox):
    assert {f"{RID}:{n}" for n in (P1, P2, P3, P4, P5, P6)} <= set(sandbox.personas)
    for key, persona in sandbox.personas.items():
        assert key == f"{persona.person.id_type}:{persona.person.id_number}"


@pytest.mark.parametrize(("id_number", "name", "phone"), [
    (P1, "王小明", "15500000101"), (P2, "李建国", "16600000202"), (P3, "张伟", "17300000303"),
    (P4, "阿依古丽·买买提", "19200000404"), (P5, "赵丽", "19900000505"), (P6, "林晓", "15500000606"),
])
def test_persona_identity(sandbox, id_number, name, phone):
    person = sandbox.personas[f"{RID}:{id_number}"].person
    assert (person.name, person.phone) == (name, phone)
    assert id_number_is_valid(person.id_number)


def test_b26_minority_name_uses_the_middle_dot(sandbox):
    assert "\u00b7" in sandbox.personas[f"{RID}:{P4}"].person.name


def test_every_persona_has_a_luhn_valid_sandbox_bank_card(sandbox):
    cards = {c.id_number: c for c in sandbox.bank_cards}
    for persona in sandbox.personas.values():
        card = cards[persona.person.id_number]
        assert (card.name, card.id_type, card.phone) == (persona.person.name, persona.person.id_type,
                                                         persona.person.phone)
        assert card.card.isdigit() and card.card.startswith("620000") and len(card.card) in (16, 19)
        assert luhn_is_valid(card.card)
    assert cards[P1].card == "6200000000000000018"
    assert cards[P2].card == "6200000000000120"


def test_luhn_helper_rejects_the_documented_bad_card():
    assert not luhn_is_valid("6200000000000000019")


def test_p4_has_80_accounts_and_a_60_character_institution(sandbox):
    file = persona_file(sandbox, P4)
    assert len(file.cards) + len(file.loans) == 80
    assert max(len(a.institution) for a in (*file.cards, *file.loans)) == 60


def test_p2_card_status_contains_123_and_is_overdue_now(sandbox):
    card = next(c for c in persona_file(sandbox, P2).cards if "123" in c.status_24m)
    assert card.overdue_amount > 0
    assert build_account_state(card) == "overdue"


def test_p5_loan_is_closed_and_paid_off(sandbox):
    (loan,) = persona_file(sandbox, P5).loans
    assert (build_account_state(loan), loan.balance) == ("closed", 0)


@pytest.mark.parametrize("status", ["N" * 23, "N" * 25, "N" * 23 + "X", "n" * 24])
def test_bad_status_string_is_rejected(status):
    with pytest.raises(ValueError, match="status_24m"):
        CardAccount("机构", date(2020, 1, 1), "CNY", 1, 0, 0, status)


# --- summary and hint -------------------------------------------------------------------------

SUMMARIES = {
    P1: (AccountTotals(2, 2, 0, 0, 80000, 3200, 0), AccountTotals(1, 1, 0, 0, 2800000, 2215400, 0), ZERO, 0, 2),
    P2: (AccountTotals(2, 2, 2, 1, 30000, 22150, 4560), ZERO, AccountTotals(1, 1, 1, 0, 60000, 41000, 0), 0, 3),
    P3: (AccountTotals(1, 1, 0, 0, 15000, 14800, 0), ZERO, AccountTotals(1, 0, 1, 1, 300000, 0, 0), 2, 1),
    # 49 CNY cards and one USD card: the USD amounts are kept apart, never added to the yuan.
    P4: (AccountTotals(50, 50, 4, 0, 1545000, 678000, 0, (CurrencyTotals("USD", 30000, 27000, 0),)),
         AccountTotals(2, 2, 0, 0, 3200000, 2357500, 0),
         AccountTotals(28, 26, 1, 0, 1110000, 368375, 0), 0, 16),
    P5: (ZERO, ZERO, AccountTotals(1, 0, 0, 0, 30000, 0, 0), 0, 0),
    P6: (AccountTotals(1, 1, 0, 0, 40000, 12000, 0), AccountTotals(1, 1, 1, 0, 1800000, 1523000, 16800),
         ZERO, 1, 1),
}
HINTS = {
    P1: CreditHint(False, False, 0, 0),
    P2: CreditHint(True, True, 3, 0),
    P3: CreditHint(True, True, 1, 2),
    P4: CreditHint(True, False, 5, 0),
    P5: CreditHint(False, False, 0, 0),
    P6: CreditHint(True, True, 1, 1),
}


@pytest.mark.parametrize("id_number", list(SUMMARIES))
def test_build_summary_per_persona(sandbox, id_number):
    s = build_summary(persona_file(sandbox, id_number), TODAY)
    assert (s.cards, s.mortgages, s.other_loans, s.public_records, s.queries_2y) == SUMMARIES[id_number]


@pytest.mark.parametrize("id_number", list(HINTS))
def test_build_hint_per_persona(sandbox, id_number):
    assert build_hint(persona_file(sandbox, id_number), TODAY) == HINTS[id_number]


def test_empty_file_summarises_to_zero_and_a_clean_hint():
    s = build_summary(EMPTY_FILE, TODAY)
    assert (s.cards, s.mortgages, s.other_loans, s.public_records, s.queries_2y) == (ZERO, ZERO, ZERO, 0, 0)
    assert build_hint(EMPTY_FILE, TODAY) == CreditHint(False, False, 0, 0)


def test_totals_sum_each_currency_on_its_own_and_count_every_account():
    cards = (CardAccount("甲", date(2020, 1, 1), "CNY", 10000, 4000, 0, "N" * 24),
             CardAccount("乙", date(2020, 1, 1), "USD", 3000, 2000, 500, "N" * 23 + "1"),
             CardAccount("丙", date(2020, 1, 1), "HKD", 8000, 100, 0, "N" * 24),
             CardAccount("丁", date(2020, 1, 1), "USD", 1000, 0, 0, "N" * 24))
    totals = build_summary(CreditFile(cards=cards), TODAY).cards
    assert totals == AccountTotals(4, 4, 1, 0, 10000, 4000, 0, (CurrencyTotals("HKD", 8000, 100, 0),
                                                                 CurrencyTotals("USD", 4000, 2000, 500)))


def test_query_exactly_two_years_old_is_outside_the_window():
    file = CreditFile(queries=(QueryRecord("甲", "贷款审批", date(2024, 12, 4)),
                               QueryRecord("乙", "贷款审批", date(2024, 12, 5))))
    assert build_summary(file, TODAY).queries_2y == 1


def test_public_record_older_than_five_years_is_not_adverse(sandbox):
    file = persona_file(sandbox, P3)
    records = tuple(replace(r, date=date(2020, 1, 1)) for r in file.public_records)
    old = replace(file, loans=(), public_records=records)
    assert build_hint(old, TODAY) == CreditHint(False, False, 0, 0)


def test_bad_debt_state_and_severe_overdue_are_adverse():
    loan = LoanAccount("机构", "other", date(2020, 1, 1), 100, 100, 100, "N" * 17 + "1234567")
    assert build_account_state(loan) == "bad_debt"
    assert build_hint(CreditFile(loans=(loan,)), TODAY).has_adverse_5y


@pytest.mark.parametrize(("day", "expected"), [
    (date(2026, 12, 4), date(2024, 12, 4)), (date(2024, 2, 29), date(2022, 2, 28)),
])
def test_years_before(day, expected):
    assert years_before(day, 2) == expected


# --- sandbox source -----------------------------------------------------------------------------


async def test_sandbox_loads_a_persona_file_and_person():
    source = SandboxCreditData(PERSONAS)
    file = await source.load(RID, P1)
    person = await source.load_person(RID, P1)
    assert len(file.cards) == 2 and person is not None and person.name == "王小明"


async def test_b20_lower_case_x_finds_the_same_persona():
    source = SandboxCreditData(PERSONAS)
    assert await source.load(RID, P2.lower()) == await source.load(RID, P2)


async def test_platform_id_type_code_finds_the_persona():
    source = SandboxCreditData(PERSONAS)
    assert await source.load("0", P1) == await source.load(RID, P1)


async def test_unknown_identity_is_a_person_without_history():
    source = SandboxCreditData(PERSONAS)
    assert await source.load(RID, "110101198001010029") is EMPTY_FILE
    assert await source.load_person(RID, "110101198001010029") is None


async def test_sandbox_lists_bank_cards():
    cards = await SandboxCreditData(PERSONAS).load_bank_cards()
    assert len(cards) >= 6
