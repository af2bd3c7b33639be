"""Question verification: five questions on the person's own credit file, within ten minutes, give level medium."""

from __future__ import annotations

import json
import logging
import random
import secrets
from collections.abc import Callable
from typing import Any

from backend.questions import NO, NO_QUERY, YES, build_questions, score
from dialogs import texts
from dialogs.context import Ctx
from dialogs.forms import Choice, Form, Slot

logger = logging.getLogger(__name__)

FLOW_ID = "question_verify"
QUESTIONS = 5
PASS_MARK = 5  # every answer right: a guess passes one time in 512
TIME_LIMIT_SECONDS = 10 * 60
MAX_FAILURES = 3
FAILURE_WINDOW_SECONDS = 24 * 3600
# Buttons are letters; the options themselves are listed in the question text.
OPTION_CHOICES = (Choice("0", "question_verify.option.a"), Choice("1", "question_verify.option.b"),
                  Choice("2", "question_verify.option.c"), Choice("3", "question_verify.option.d"))
KIND_KEYS = {
    "account_bank": "question_verify.kind.account_bank", "loan_amount": "question_verify.kind.loan_amount",
    "card_limit": "question_verify.kind.card_limit", "opened_year": "question_verify.kind.opened_year",
    "card_currency": "question_verify.kind.card_currency",
    "has_mortgage": "question_verify.kind.has_mortgage", "recent_query": "question_verify.kind.recent_query",
}
OPTION_KEYS = {
    YES: "question_verify.answer.yes", NO: "question_verify.answer.no", NO_QUERY: "question_verify.answer.none",
    "loan_lt_50k": "question_verify.bracket.loan_lt_50k", "loan_50k_300k": "question_verify.bracket.loan_50k_300k",
    "loan_300k_1m": "question_verify.bracket.loan_300k_1m", "loan_ge_1m": "question_verify.bracket.loan_ge_1m",
    "card_lt_10k": "question_verify.bracket.card_lt_10k", "card_10k_50k": "question_verify.bracket.card_10k_50k",
    "card_50k_100k": "question_verify.bracket.card_50k_100k", "card_ge_100k": "question_verify.bracket.card_ge_100k",
    "CNY": "currency.cny", "USD": "currency.usd", "EUR": "currency.eur", "HKD": "currency.hkd",  # CARD_CURRENCIES
}
TRANSLATED_KINDS = frozenset({"loan_amount", "card_limit", "card_currency", "has_mortgage", "recent_query"})


def failures_key(account_id: int) -> str:
    return f"question_verify:failures:{account_id}"


def seed_key(account_id: int) -> str:
    return f"question_verify:seed:{account_id}"


def _prompter(index: int) -> Callable[[Any, Ctx], str]:
    def prompt(self: QuestionVerify, ctx: Ctx) -> str:
        question = ctx.get("questions")[index]
        lines = [ctx.t("question_verify.question", number=index + 1, total=QUESTIONS),
                 ctx.t(KIND_KEYS[question["kind"]])]
        for choice, option in zip(OPTION_CHOICES, question["options"], strict=False):
            text = ctx.t(OPTION_KEYS[option]) if option in OPTION_KEYS and question["kind"] in TRANSLATED_KINDS \
                else option
            lines.append(ctx.t("question_verify.option_line", letter=ctx.t(choice.label_key), text=text))
        return "\n".join(lines)
    return prompt


def _chooser(index: int) -> Callable[[Any, Ctx], tuple[Choice, ...]]:
    def choices(self: QuestionVerify, ctx: Ctx) -> tuple[Choice, ...]:
        return OPTION_CHOICES[: len(ctx.get("questions")[index]["options"])]
    return choices


class QuestionVerify(Form):
    id = FLOW_ID
    triggers = ("question_verify",)
    requires_login = True
    slots = tuple(Slot(f"q{n}", "choice", private=True) for n in range(1, QUESTIONS + 1))

    async def on_start(self, ctx: Ctx) -> None:
        """Refuses after three failures or for an empty file; else builds and keeps the question set."""
        kv, account = ctx.services.kv, await ctx.account()
        if int(await kv.get(failures_key(account.id)) or 0) >= MAX_FAILURES:
            self._other_methods(ctx)
            return
        # One seed per failure window: trying again shows the same questions, so comparing
        # attempts cannot single out the option that never changes.
        await kv.add(seed_key(account.id), secrets.token_hex(16), ttl=FAILURE_WINDOW_SECONDS)
        seed = await kv.get(seed_key(account.id)) or secrets.token_hex(16)
        file = await ctx.services.credit.load(account.id_type, account.id_number)
        questions = build_questions(file, random.Random(seed), today=ctx.now.date())
        if len(questions) != QUESTIONS:
            ctx.say("question_verify.not_available")
            ctx.stop()
            return
        ctx.put("questions", [{"kind": q.kind, "options": list(q.options)} for q in questions])
        ctx.put("answers", json.dumps([q.answer_index for q in questions]), secret=True)
        ctx.put("started", ctx.now.timestamp())
        ctx.say("question_verify.intro", total=QUESTIONS, minutes=TIME_LIMIT_SECONDS // 60)

    prompt_q1, prompt_q2, prompt_q3, prompt_q4, prompt_q5 = (_prompter(i) for i in range(QUESTIONS))
    choices_q1, choices_q2, choices_q3, choices_q4, choices_q5 = (_chooser(i) for i in range(QUESTIONS))

    async def on_complete(self, ctx: Ctx) -> None:
        if ctx.now.timestamp() - float(ctx.get("started", 0)) > TIME_LIMIT_SECONDS:
            await self._fail(ctx, "question_verify.too_slow")
            return
        given = [int(ctx.get(f"q{n}")) for n in range(1, QUESTIONS + 1)]
        if score(json.loads(ctx.get("answers")), given) < PASS_MARK:
            await self._fail(ctx, "question_verify.wrong")
            return
        account = await ctx.services.accounts.set_level_at_least(ctx.account_id, "medium")  # type: ignore[arg-type]
        await ctx.services.kv.delete(failures_key(account.id))
        await ctx.services.kv.delete(seed_key(account.id))
        ctx.forget_account()
        ctx.say("question_verify.done", level=ctx.t(f"level.{account.security_level}"))
        ctx.returns["verified"] = True
        if not ctx.state.get("stack"):
            texts.menu(ctx)

    async def _fail(self, ctx: Ctx, key: str) -> None:
        assert ctx.account_id is not None
        failures = await ctx.services.kv.incr(failures_key(ctx.account_id), ttl=FAILURE_WINDOW_SECONDS)
        logger.info("question verification failed (%s), attempt %d", key, failures)
        ctx.say(key)
        if failures >= MAX_FAILURES:
            self._other_methods(ctx)
            return
        ctx.say("question_verify.retry", left=MAX_FAILURES - failures)
        ctx.stop()

    @staticmethod
    def _other_methods(ctx: Ctx) -> None:
        ctx.say("question_verify.too_many", buttons=(ctx.button("menu.bank_card", "/bank_card"),
                                                    ctx.button("menu.certificate", "/certificate")))
        ctx.stop()


FLOW = QuestionVerify()
