"""Close-account transcripts: verification, a warning, confirmation; the identity may register again."""

from __future__ import annotations

import pytest
from fakes import P1, Chat, login, register, texts_of, verify_card
from flowkit import asked, buttons_of, count_rows, last_text, log_in, state_of
from sqlalchemy import select

from backend.models import Account, AuditEvent, OutboxMessage, QueryRequest, StoredFile, TranscriptEntry, VerifiedCard
from bot.wiring import App
from dialogs.catalog import Translator

T = Translator("zh")


@pytest.fixture
async def warned(app: App, chat: Chat) -> Chat:
    """P1 logged in with a pending request, verified inside close_account, shown the warning."""
    await register(chat)
    await log_in(chat)
    account = await app.services.accounts.find_by_login("wangxm01")
    assert account is not None
    await app.services.queries.submit(account.id, "hint", chat.conversation_id, "zh")
    replies = await chat.tap("/close_account")
    assert T("close_account.intro") in texts_of(replies)
    await chat.tap("/method:bank_card")
    replies = await verify_card(chat)
    assert last_text(replies) == T("close_account.decision.prompt")
    assert buttons_of(replies) == ["/decision:confirm", "/decision:keep"]
    return chat


async def test_keep_changes_nothing(app: App, warned: Chat) -> None:
    replies = await warned.tap("/decision:keep")
    assert T("close_account.kept") in texts_of(replies)
    assert await app.services.accounts.find_by_login("wangxm01") is not None
    assert (await state_of(app, warned))["account_id"] is not None


async def test_confirm_closes_logs_out_and_frees_identity(app: App, warned: Chat) -> None:
    audits = await count_rows(app, AuditEvent)
    replies = await warned.tap("/decision:confirm")
    assert T("close_account.done") in texts_of(replies)
    assert (await state_of(app, warned))["account_id"] is None
    assert await asked(app, warned) == (None, None)
    async with app.services.db.sessions() as session:
        row = (await session.scalars(select(Account))).one()
        statuses = set((await session.scalars(select(QueryRequest.status))).all())
    assert row.closed_at is not None
    assert row.login_key == row.identity_hash == row.phone_hash == f"closed:{row.id}"
    assert app.services.vault.open(row.name_enc) == "closed"
    assert P1["phone"] not in app.services.vault.open(row.phone_enc)
    assert statuses == {"expired"}
    assert await count_rows(app, VerifiedCard) == 0
    assert await count_rows(app, AuditEvent) > audits  # the log is kept, and the closure added to it

    # Logging in to the closed account fails exactly like a wrong password.
    assert T("login.failed", max_failures=5, minutes=15) in texts_of(await login(warned))
    await warned.say("/cancel")
    # The same identity and login name register again.
    await register(warned)
    assert await count_rows(app, Account) == 2
    assert T("login.done", login_name="wangxm01", level=T("level.low")) in texts_of(await log_in(warned))


async def test_cancel_at_the_warning_keeps_the_account(app: App, warned: Chat) -> None:
    assert T("cancelled") in texts_of(await warned.say("/cancel"))
    assert await app.services.accounts.find_by_login("wangxm01") is not None


async def test_unknown_answer_is_reasked(app: App, warned: Chat) -> None:
    replies = await warned.say("也许")
    assert T("error.choice.unknown") in texts_of(replies)
    assert last_text(replies) == T("close_account.decision.prompt")


async def test_needs_login(app: App, chat: Chat) -> None:
    assert T("login.required") in texts_of(await chat.tap("/close_account"))


async def test_confirm_erases_what_the_chats_kept_so_a_later_agent_sees_none_of_it(app: App, warned: Chat) -> None:
    """A shared device: the next person in this chat asks for an agent, who saw the closed account's
    whole history; and a download link made before the closure still opened."""
    other = Chat(app, "rest:elsewhere")  # a conversation the account's request came from
    account = await app.services.accounts.find_by_login("wangxm01")
    assert account is not None
    await app.services.queries.submit(account.id, "hint", other.conversation_id, "zh")
    await app.services.files.put(warned.conversation_id, "report.pdf", "application/pdf", b"%PDF-1.4 x")
    await app.services.files.put(other.conversation_id, "report.pdf", "application/pdf", b"%PDF-1.4 y")
    await app.services.outbox.put(other.conversation_id, [{"text": "结果已生成"}])
    assert await count_rows(app, TranscriptEntry) > 0
    await warned.tap("/decision:confirm")
    for kept in (StoredFile, OutboxMessage):
        assert await count_rows(app, kept) == 0, kept
    async with app.services.db.sessions() as session:
        lines = (await session.scalars(select(TranscriptEntry))).all()
    shown = [app.services.vault.open(line.text_enc) for line in lines]
    assert shown == []  # not even the closing turn: the next person in this chat learns nothing of it
    await warned.say("人工")
    (view,) = await app.services.handoffs.queue()
    history = [line.text for line in await app.services.handoffs.transcript(view)]
    assert not any("wangxm01" in text or "银行卡" in text for text in history), history
