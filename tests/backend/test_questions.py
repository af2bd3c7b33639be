"""Question verification's questions: pure, built from the person's own file, deterministic per seed."""

from __future__ import annotations

import random
from datetime import date
from pathlib import Path

import pytest

from backend.credit_data import (
    EMPTY_FILE,
    CardAccount,
    CreditFile,
    LoanAccount,
    load_sandbox,
)
from backend.questions import (
    DISTRACTOR_INSTITUTIONS,
    NO_QUERY,
    base_institution,
    build_questions,
    is_available,
    score,
)

PERSONAS = load_sandbox(Path(__file__).resolve().parents[2] / "data" / "fixtures" / "personas.json").personas
TODAY = date(2026, 12, 3)
P1 = PERSONAS["resident_id:110105199003071239"].file
P5 = PERSONAS["resident_id:110101198001010061"].file
KINDS = ("account_bank", "loan_amount", "opened_year", "has_mortgage", "recent_query")
NORMAL = "N" * 24


def answers(file: CreditFile, seed: int = 1) -> dict[str, str]:
    return {q.kind: q.answer for q in build_questions(file, random.Random(seed), TODAY)}


def known(file: CreditFile) -> set[str]:
    names = [a.institution for a in (*file.cards, *file.loans)] + [q.institution for q in file.queries]
    return {base_institution(n) for n in names}


@pytest.mark.parametrize("seed", range(20))
def test_p1_clean_record_with_cards_and_mortgage(seed: int) -> None:
    questions = build_questions(P1, random.Random(seed), TODAY)
    assert tuple(q.kind for q in questions) == KINDS
    right = {q.kind: q.answer for q in questions}
    assert right["account_bank"] in {"示例商业银行股份有限公司", "沙箱城市银行股份有限公司"}
    assert right["loan_amount"] == "loan_ge_1m"  # 2,800,000 yuan
    assert right["opened_year"] == "2016"
    assert right["has_mortgage"] == "yes"
    assert right["recent_query"] == "沙箱城市银行股份有限公司"
    for q in questions:
        assert len(set(q.options)) == len(q.options) == (2 if q.kind == "has_mortgage" else 4)
        if q.kind in ("account_bank", "recent_query"):
            wrong = set(q.options) - {q.answer}
            assert wrong <= set(DISTRACTOR_INSTITUTIONS) and not wrong & known(P1)


def test_p5_thin_file_without_cards_asks_about_the_loan() -> None:
    assert answers(P5) == {"account_bank": "沙箱村镇银行有限责任公司", "loan_amount": "loan_lt_50k",
                           "opened_year": "2023", "has_mortgage": "no", "recent_query": "沙箱村镇银行有限责任公司"}


def test_an_unknown_identity_has_an_empty_file_and_no_questions() -> None:
    assert "resident_id:110101199901010002" not in PERSONAS
    assert not is_available(EMPTY_FILE)
    assert build_questions(EMPTY_FILE, random.Random(1), TODAY) == ()


def test_every_persona_gets_five_questions_and_distractors_never_from_the_file() -> None:
    for persona in PERSONAS.values():
        for seed in range(5):
            questions = build_questions(persona.file, random.Random(seed), TODAY)
            assert len(questions) == 5
            bank = questions[0]
            assert not (set(bank.options) - {bank.answer}) & known(persona.file)


def test_the_two_institution_questions_give_nothing_away_when_compared() -> None:
    """A name in both option lists is never only the answer: the lists are disjoint or the same."""
    for persona in PERSONAS.values():
        for seed in range(20):
            questions = build_questions(persona.file, random.Random(seed), TODAY)
            bank, query = set(questions[0].options), set(questions[4].options)
            assert not bank & query or bank == query, (persona.person.name, seed)


def test_p1_bank_question_avoids_the_recent_query_answer() -> None:
    assert {answers(P1, seed)["account_bank"] for seed in range(20)} == {"示例商业银行股份有限公司"}


def test_the_same_seed_gives_the_same_questions() -> None:
    assert build_questions(P1, random.Random(42), TODAY) == build_questions(P1, random.Random(42), TODAY)


def test_option_order_is_shuffled_so_the_answer_can_be_anywhere() -> None:
    for kind_index in (0, 2, 4):  # institutions and years
        places = {build_questions(P1, random.Random(s), TODAY)[kind_index].answer_index for s in range(60)}
        assert places == {0, 1, 2, 3}, kind_index


def test_years_are_never_in_the_future() -> None:
    for seed in range(30):
        year = build_questions(P5, random.Random(seed), TODAY)[2]
        assert max(int(y) for y in year.options) <= TODAY.year and year.answer == "2023"


def test_card_only_file_without_queries() -> None:
    card = CardAccount("沙箱城市银行股份有限公司上海分行", date(2021, 5, 1), "CNY", 30_000, 0, 0, NORMAL)
    questions = build_questions(CreditFile(cards=(card,)), random.Random(3), TODAY)
    right = {q.kind: q.answer for q in questions}
    assert right == {"account_bank": "沙箱城市银行股份有限公司", "card_limit": "card_10k_50k",
                     "opened_year": "2021", "has_mortgage": "no", "recent_query": NO_QUERY}


def test_a_dollar_limit_is_never_put_in_yuan_brackets() -> None:
    """A USD 150,000 card beside a CNY 30,000 one: the yuan card is asked about, in yuan brackets."""
    usd = CardAccount("沙箱城市银行股份有限公司上海分行", date(2021, 5, 1), "USD", 150_000, 0, 0, NORMAL)
    cny = CardAccount("示例商业银行股份有限公司北京分行", date(2022, 5, 1), "CNY", 30_000, 0, 0, NORMAL)
    assert answers(CreditFile(cards=(usd, cny)))["card_limit"] == "card_10k_50k"


@pytest.mark.parametrize(("currency", "options"), [("USD", ("CNY", "USD", "EUR", "HKD")),
                                                   ("JPY", ("CNY", "USD", "EUR", "JPY"))])
def test_only_foreign_cards_ask_for_the_currency_not_a_yuan_bracket(currency: str, options: tuple[str, ...]) -> None:
    card = CardAccount("沙箱城市银行股份有限公司上海分行", date(2021, 5, 1), currency, 5_000, 0, 0, NORMAL)
    (question,) = [q for q in build_questions(CreditFile(cards=(card,)), random.Random(3), TODAY)
                   if q.kind in ("card_limit", "card_currency")]
    assert (question.kind, question.options, question.answer) == ("card_currency", options, currency)


def test_loan_brackets_edges() -> None:
    for amount, bracket in ((49_999, "loan_lt_50k"), (50_000, "loan_50k_300k"), (300_000, "loan_300k_1m"),
                            (1_000_000, "loan_ge_1m")):
        loan = LoanAccount("示例商业银行股份有限公司", "other", date(2020, 1, 1), amount, 0, 0, NORMAL)
        assert answers(CreditFile(loans=(loan,)))["loan_amount"] == bracket


def test_base_institution_drops_the_branch() -> None:
    assert base_institution("示例商业银行股份有限公司北京朝阳支行") == "示例商业银行股份有限公司"
    assert base_institution("沙箱村镇银行有限责任公司信用卡中心") == "沙箱村镇银行有限责任公司"
    assert base_institution("某银行") == "某银行"


def test_score_counts_right_answers() -> None:
    assert score([0, 1, 2, 3, 1], [0, 1, 2, 3, 1]) == 5
    assert score([0, 1, 2, 3, 1], [0, 1, 2, 3, 0]) == 4
    assert score([0, 1], [0]) == 1
