"""Knowledge questions built from a person's own credit file (issue 3): pure functions, no I/O.

Five multiple-choice questions, each with one right option:

1. ``account_bank``: which institution issued one of your credit cards (or, with no card, granted one
   of your loans); the three distractors come from ``DISTRACTOR_INSTITUTIONS`` minus every institution
   in the file, so no other option is also right. Question 5 uses other distractors (or, when both
   questions have the same answer, the very same options), so a name seen in both lists gives nothing away.
2. ``loan_amount``: the bracket of your largest loan's amount (``card_limit``, the largest limit of a
   yuan card, when there is no loan; ``card_currency``, the currency of your highest-limit card, when
   every card is in a foreign currency: yuan brackets would misplace a dollar limit).
3. ``opened_year``: the year your earliest card or loan was opened; distractors are nearby years.
4. ``has_mortgage``: yes or no.
5. ``recent_query``: which institution queried your credit most recently (``NO_QUERY`` when none did).

Institution options are shown without their branch ("...股份有限公司北京分行" -> "...股份有限公司") so
the real one does not stand out by its shape. Institution options are shuffled; brackets and years are
listed in ascending order, with the distractor years picked so the right year can sit in any place.
A file with neither cards nor loans (or, in theory, with too few institutions left as distractors) gives
no questions (``()``): the method is not available.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Literal

from backend.credit_data import DOMESTIC_CURRENCY, CreditFile

QuestionKind = Literal["account_bank", "loan_amount", "card_limit", "card_currency", "opened_year", "has_mortgage",
                       "recent_query"]

OPTIONS = 4
YES, NO = "yes", "no"
NO_QUERY = "none"  # the option "no institution has queried it"
# Bracket ids (lower bound inclusive, upper bound exclusive, in yuan); the dialog layer names them.
LOAN_BRACKETS = (("loan_lt_50k", 0, 50_000), ("loan_50k_300k", 50_000, 300_000),
                 ("loan_300k_1m", 300_000, 1_000_000), ("loan_ge_1m", 1_000_000, None))
CARD_BRACKETS = (("card_lt_10k", 0, 10_000), ("card_10k_50k", 10_000, 50_000),
                 ("card_50k_100k", 50_000, 100_000), ("card_ge_100k", 100_000, None))
CARD_CURRENCIES = ("CNY", "USD", "EUR", "HKD")  # options of card_currency, in this order
# Invented names in the sandbox's style, used only as wrong options.
DISTRACTOR_INSTITUTIONS = (
    "示例商业银行股份有限公司", "沙箱城市银行股份有限公司", "示例农村商业银行股份有限公司",
    "沙箱村镇银行有限责任公司", "示例消费金融有限公司", "示例汽车金融有限公司",
    "沙箱互联网小额贷款有限公司", "示例小额贷款有限公司", "示例储蓄银行股份有限公司",
    "沙箱民营银行股份有限公司", "示例股份制商业银行股份有限公司", "沙箱农村信用合作联社",
    "示例城市商业银行股份有限公司", "沙箱消费金融有限公司",
)
_COMPANY_ENDINGS = ("股份有限公司", "有限责任公司", "有限公司", "合作联社")


@dataclass(frozen=True)
class Question:
    kind: QuestionKind
    options: tuple[str, ...]
    answer_index: int

    @property
    def answer(self) -> str:
        return self.options[self.answer_index]


def base_institution(name: str) -> str:
    """The institution without its branch: the text up to the first company-form ending."""
    cut = min((name.find(end) + len(end) for end in _COMPANY_ENDINGS if end in name), default=len(name))
    return name[:cut]


def is_available(file: CreditFile) -> bool:
    """Cards or loans to ask about, and enough wrong institutions left to ask with."""
    return bool(file.cards or file.loans) and len(_distractor_pool(file)) >= OPTIONS - 1


def build_questions(file: CreditFile, rng: random.Random, today: date | None = None) -> tuple[Question, ...]:
    """The five questions for this file, or () when it has no cards and no loans."""
    if not is_available(file):
        return ()
    bank, recent, wrong_bank, wrong_query = _institutions(file, rng)
    return (_shuffled(bank, wrong_bank, "account_bank", rng), _amount(file), _opened_year(file, rng, today),
            _has_mortgage(file), _shuffled(recent, wrong_query, "recent_query", rng))


def score(right: Sequence[int], given: Sequence[int]) -> int:
    """How many given option indexes are the right ones (a missing answer counts as wrong)."""
    return sum(a == b for a, b in zip(right, given, strict=False))


# --- one question each -------------------------------------------------------------------------


def _known_institutions(file: CreditFile) -> frozenset[str]:
    names = [a.institution for a in (*file.cards, *file.loans)] + [q.institution for q in file.queries]
    return frozenset(base_institution(n) for n in names)


def _distractor_pool(file: CreditFile) -> list[str]:
    known = _known_institutions(file)
    return [d for d in DISTRACTOR_INSTITUTIONS if not any(d in k or k in d for k in known)]


def _institutions(file: CreditFile, rng: random.Random) -> tuple[str, str, list[str], list[str]]:
    """Answers and distractors of the two institution questions, chosen so that comparing the two
    option lists gives nothing away: a name in both lists is never just the answer of both."""
    pool = _distractor_pool(file)
    recent = base_institution(max(file.queries, key=lambda q: q.date).institution) if file.queries else NO_QUERY
    banks = sorted({base_institution(a.institution) for a in (file.cards or file.loans)})
    bank = rng.choice([b for b in banks if b != recent] or banks)
    wanted = OPTIONS - 1
    if bank == recent:  # one answer for both: the same options, so they compare equal
        wrong = rng.sample(pool, wanted)
        return bank, recent, wrong, list(wrong)
    if len(pool) >= 2 * wanted:  # two answers: no name in common
        drawn = rng.sample(pool, 2 * wanted)
        return bank, recent, drawn[:wanted], drawn[wanted:]
    return bank, recent, rng.sample(pool, wanted), rng.sample(pool, wanted)


def _shuffled(right: str, wrong: list[str], kind: QuestionKind, rng: random.Random) -> Question:
    options = [right, *wrong]
    rng.shuffle(options)
    return Question(kind, tuple(options), options.index(right))


def _bracket(amount: int, brackets: tuple[tuple[str, int, int | None], ...]) -> int:
    return next(i for i, (_, low, high) in enumerate(brackets) if low <= amount and (high is None or amount < high))


def _amount(file: CreditFile) -> Question:
    if file.loans:
        largest = max(loan.amount for loan in file.loans)
        return Question("loan_amount", tuple(b[0] for b in LOAN_BRACKETS), _bracket(largest, LOAN_BRACKETS))
    yuan = [card.credit_limit for card in file.cards if card.currency == DOMESTIC_CURRENCY]
    if yuan:
        return Question("card_limit", tuple(b[0] for b in CARD_BRACKETS), _bracket(max(yuan), CARD_BRACKETS))
    # Limits in other currencies cannot be compared with each other without a rate: the card with the
    # highest figure is the one asked about, which only matters for the rare file with two currencies.
    currency = max(file.cards, key=lambda card: card.credit_limit).currency
    options = CARD_CURRENCIES if currency in CARD_CURRENCIES else (*CARD_CURRENCIES[:-1], currency)
    return Question("card_currency", options, options.index(currency))


def _opened_year(file: CreditFile, rng: random.Random, today: date | None) -> Question:
    year = min(a.opened for a in (*file.cards, *file.loans)).year
    latest = today.year if today else year + OPTIONS - 1
    # Four consecutive years that hold the right one, never in the future: its place is random.
    starts = [s for s in range(year - OPTIONS + 1, year + 1) if s + OPTIONS - 1 <= max(latest, year)]
    start = rng.choice(starts)
    options = tuple(str(y) for y in range(start, start + OPTIONS))
    return Question("opened_year", options, options.index(str(year)))


def _has_mortgage(file: CreditFile) -> Question:
    has = any(loan.kind == "mortgage" for loan in file.loans)
    return Question("has_mortgage", (YES, NO), 0 if has else 1)
