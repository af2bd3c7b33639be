"""Handoff to a person, in the engine and the desk: queue, silence while an agent has it, resume, time-out."""

from __future__ import annotations


import pytest
from fakes import P1, Chat, register, texts_of
from flowkit import P2, P4, PASSWORD, asked, buttons_of, last_text, log_in, quick_user, register, register_until, submit_request
from sqlalchemy import select

from backend.clock import FixedClock
from backend.handoff import AgentView, AlreadyClaimed, NotYours
from backend.identity_rules import mask_name
from backend.models import AuditEvent, Handoff, TranscriptEntry
from bot.wiring import App
from dialogs.catalog import Translator
from dialogs.types import Turn

T, EN = Translator("zh"), Translator("en")
AGENT_PASSWORD = "correct horse battery"


async def agent(app: App, username: str = "li.agent", name: str = "小李") -> AgentView:
    await app.services.agents.add(username, name, AGENT_PASSWORD)
    signed = await app.services.agents.sign_in(username, AGENT_PASSWORD)
    assert signed is not None
    return signed[1]


async def transcript_texts(app: App, conversation_id: str) -> list[tuple[str, str]]:
    async with app.services.db.sessions() as session:
        rows = (await session.scalars(select(TranscriptEntry).where(
            TranscriptEntry.conversation_id == conversation_id).order_by(TranscriptEntry.id))).all()
    return [(r.author, app.services.vault.open(r.text_enc)) for r in rows]


async def test_asking_for_a_person_queues_with_position_and_context_but_no_answers(app: App, chat: Chat) -> None:
    await register_until(chat, "password")
    replies = await chat.say("人工")
    assert last_text(replies) == T("agent.queued", position=1, minutes=5)
    assert buttons_of(replies) == ["/bot"]
    other = Chat(app, "rest:someone-else", locale="en")
    replies = await other.say("/agent")
    assert last_text(replies) == EN("agent.queued", position=2, minutes=5)

    queue = await app.services.handoffs.queue()
    assert [(v.conversation_id, v.status) for v in queue] == [(chat.conversation_id, "waiting"),
                                                             ("rest:someone-else", "waiting")]
    assert queue[0].context == {"flow": "register", "step": "password", "lang": "zh", "level": None,
                                "logged_in": False}
    async with app.services.db.sessions() as session:
        raw = str([r.context for r in (await session.scalars(select(Handoff))).all()])
    for secret in (P1["name"], P1["id_number"], "wangxm01"):
        assert secret not in raw


async def test_while_waiting_the_bot_only_forwards_and_keeps_quiet_about_flows(app: App, chat: Chat) -> None:
    await register_until(chat, "password")
    await chat.say("转人工")
    replies = await chat.say("登录")  # would start the log-in flow; here it is a message for the agent
    assert last_text(replies) == T("agent.waiting", position=1)
    assert (await asked(app, chat)) == ("register", "password")
    replies = await chat.say("我的身份证 110101199003077777，手机 13912345678")
    assert last_text(replies) == T("agent.waiting", position=1)
    lines = await transcript_texts(app, chat.conversation_id)
    user_lines = [text for author, text in lines if author == "user"]
    assert "登录" in user_lines
    assert "我的身份证 110101********7777，手机 139****5678" in user_lines
    whole = str(lines)
    assert "110101199003077777" not in whole and "13912345678" not in whole


async def test_the_transcript_hides_secrets_typed_before_the_handoff(app: App, chat: Chat) -> None:
    await register_until(chat, "password_confirm")
    await chat.say("人工")
    lines = await transcript_texts(app, chat.conversation_id)
    assert ("user", "••••••") in lines  # the password answer
    assert PASSWORD not in str(lines)
    assert ("user", "王*明") in lines  # the name answer, masked like the product's echoes
    assert P1["id_number"] not in str(lines)


async def test_one_agent_claims_the_other_is_refused(app: App, chat: Chat) -> None:
    await chat.say("人工")
    first, second = await agent(app), await agent(app, "wang.agent", "小王")
    (view,) = await app.services.handoffs.queue()
    claimed = await app.services.handoffs.claim(view.id, first)
    assert claimed.status == "active" and claimed.agent_id == first.id
    with pytest.raises(AlreadyClaimed):
        await app.services.handoffs.claim(view.id, second)
    with pytest.raises(NotYours):
        await app.services.handoffs.reply(view.id, second, "你好")
    with pytest.raises(NotYours):
        await app.services.handoffs.get(view.id, second)
    replies = await chat.say("还在吗")
    assert replies == []  # the agent has it: the bot says nothing


async def test_hand_back_resumes_the_open_question_and_the_flow_goes_on(app: App, chat: Chat,
                                                                       clock: FixedClock) -> None:
    await register_until(chat, "password")
    await chat.say("人工")
    li = await agent(app)
    (view,) = await app.services.handoffs.queue()
    await app.services.handoffs.claim(view.id, li)
    clock.advance(app.settings.flow_timeout_seconds * 3)  # a long talk with the agent
    assert await app.engine.expire(chat.conversation_id) == []  # no "flow timed out" meanwhile
    await app.services.handoffs.finish(view.id, li, "returned")
    replies = await app.engine.resume(chat.conversation_id, "agent.handed_back")
    assert texts_of(replies).startswith(T("agent.handed_back"))
    assert last_text(replies) == T("register.password.prompt")
    replies = await chat.say(PASSWORD)
    assert last_text(replies) == T("register.password_confirm.prompt")
    assert await app.engine.resume(chat.conversation_id, "agent.handed_back") == []  # only once


async def test_back_to_bot_and_cancel_leave_the_queue(app: App, chat: Chat) -> None:
    await register_until(chat, "phone")
    await chat.say("人工")
    replies = await chat.say("返回机器人")
    assert texts_of(replies).startswith(T("agent.left"))
    assert last_text(replies) == T("register.phone.prompt")
    assert await app.services.handoffs.queue() == []
    await chat.say("/agent")
    replies = await chat.say("取消")
    assert T("agent.left") in texts_of(replies) and T("cancelled") in texts_of(replies)
    assert (await asked(app, chat)) == (None, None)
    replies = await chat.say("/bot")
    assert texts_of(replies).startswith(T("agent.not_in_handoff"))


async def test_nobody_claims_in_time_the_person_is_told_and_the_bot_is_back(app: App, clock: FixedClock) -> None:
    person = Chat(app, "rest:waiting-person")
    await register_until(person, "login_name")
    await person.say("客服")
    clock.advance(app.settings.handoff_wait_seconds - 1)
    await app.dispatcher.run_once()
    assert await app.services.outbox.take(person.conversation_id) == []
    clock.advance(2)
    await app.dispatcher.run_once()
    sent = [m["text"] for m in await app.services.outbox.take(person.conversation_id)]
    assert sent[0] == T("agent.timeout") and sent[-1] == T("register.login_name.prompt")
    async with app.services.db.sessions() as session:
        assert (await session.scalar(select(Handoff.status))) == "timed_out"
    replies = await person.say("wangxm01")  # the flow goes on
    assert last_text(replies) == T("register.password.prompt")


async def test_a_result_waits_while_an_agent_has_the_conversation(app: App, clock: FixedClock) -> None:
    person = Chat(app, "rest:result-person")
    await quick_user(person, P2, "lijg1969")
    await submit_request(person, "hint", P2)
    await person.say("人工")
    li = await agent(app)
    (view,) = await app.services.handoffs.queue()
    await app.services.handoffs.claim(view.id, li)
    clock.advance(app.settings.report_delay_seconds + 1)
    await app.dispatcher.run_once()
    assert await app.services.outbox.take(person.conversation_id) == []
    await app.services.handoffs.finish(view.id, li, "closed")
    await app.engine.resume(person.conversation_id, "agent.closed")
    clock.advance(31)
    await app.dispatcher.run_once()
    assert await app.services.outbox.take(person.conversation_id), "the result notice came after the handoff"


async def test_agent_sessions_expire_and_wrong_passwords_fail_the_same_way(app: App, clock: FixedClock) -> None:
    directory = app.services.agents
    await directory.add("li.agent", "小李", AGENT_PASSWORD)
    assert await directory.sign_in("li.agent", "wrong password!") is None
    assert await directory.sign_in("nobody", AGENT_PASSWORD) is None
    token, who = await directory.sign_in("li.agent", AGENT_PASSWORD)  # type: ignore[misc]
    assert (await directory.session(token)) == who
    clock.advance(app.settings.agent_idle_seconds + 1)
    assert await directory.session(token) is None  # idle too long
    token, _ = await directory.sign_in("li.agent", AGENT_PASSWORD)  # type: ignore[misc]
    for _ in range(app.settings.agent_session_seconds // (app.settings.agent_idle_seconds - 60) + 1):
        clock.advance(app.settings.agent_idle_seconds - 60)
        alive = await directory.session(token)
    assert alive is None  # used all day long, it still ends at the absolute limit
    async with app.services.db.sessions() as session:
        actions = (await session.scalars(select(AuditEvent.action))).all()
    assert actions.count("agent.sign_in_failed") == 2 and "agent.created" in actions


async def test_wrong_passwords_lock_a_username_from_any_address_for_a_while(app: App, clock: FixedClock) -> None:
    from backend.handoff import FAILURE_WINDOW, MAX_FAILURES

    directory = app.services.agents
    await directory.add("li.agent", "小李", AGENT_PASSWORD)
    for attempt in range(MAX_FAILURES):
        assert await directory.sign_in("li.agent", f"guess number {attempt}", client=f"10.0.0.{attempt}") is None
    assert await directory.sign_in("LI.agent ", AGENT_PASSWORD) is None  # locked, however it is spelt
    assert await directory.sign_in("li.agent", AGENT_PASSWORD) is None
    clock.advance(FAILURE_WINDOW + 1)
    assert await directory.sign_in("li.agent", AGENT_PASSWORD) is not None
    async with app.services.db.sessions() as session:
        actions = (await session.scalars(select(AuditEvent.action))).all()
    assert actions.count("agent.sign_in_locked") == 2


async def test_parallel_guesses_cannot_outrun_the_username_lock(app: App) -> None:
    import asyncio

    from backend.handoff import MAX_FAILURES

    directory = app.services.agents
    await directory.add("li.agent", "小李", AGENT_PASSWORD)
    guesses = [directory.sign_in("li.agent", f"guess number {n}") for n in range(4 * MAX_FAILURES)]
    await asyncio.gather(*guesses, directory.sign_in("li.agent", AGENT_PASSWORD))
    async with app.services.db.sessions() as session:
        actions = (await session.scalars(select(AuditEvent.action))).all()
    assert actions.count("agent.sign_in_failed") <= MAX_FAILURES  # the rest were refused unchecked
    assert actions.count("agent.sign_in_locked") >= 3 * MAX_FAILURES


async def test_a_disabled_agent_loses_open_sessions_and_cannot_sign_in(app: App) -> None:
    directory = app.services.agents
    await directory.add("li.agent", "小李", AGENT_PASSWORD)
    token, who = await directory.sign_in("li.agent", AGENT_PASSWORD)  # type: ignore[misc]
    await directory.set_disabled("li.agent", True)
    assert await directory.session(token) is None
    assert await directory.sign_in("li.agent", AGENT_PASSWORD) is None
    assert [(a.username, enabled) for a, enabled in await directory.list()] == [("li.agent", False)]
    await directory.set_disabled("li.agent", False)
    assert await directory.sign_in("li.agent", AGENT_PASSWORD) is not None


async def test_every_agent_action_is_audited(app: App, chat: Chat) -> None:
    await chat.say("人工")
    li = await agent(app)
    desk = app.services.handoffs
    (view,) = await desk.queue()
    await desk.get(view.id, li)
    await desk.claim(view.id, li)
    await desk.reply(view.id, li, "您好")
    await desk.note(view.id, li, "客户问报告时间")
    await desk.finish(view.id, li, "returned")
    async with app.services.db.sessions() as session:
        rows = (await session.scalars(select(AuditEvent).where(AuditEvent.actor == f"agent:{li.id}"))).all()
    assert [r.action for r in rows if r.action.startswith("handoff.")] == [
        "handoff.viewed", "handoff.claimed", "handoff.replied", "handoff.noted", "handoff.returned"]
    lines = await desk.transcript(view)
    assert [(line.author, line.text) for line in lines][-2:] == [("agent", "您好"), ("note", "客户问报告时间")]


async def test_agent_input_is_checked(app: App, chat: Chat) -> None:
    from backend.handoff import BadAgentInput

    with pytest.raises(BadAgentInput):
        await app.services.agents.add("short", "x", "too short")
    await chat.say("人工")
    li = await agent(app)
    (view,) = await app.services.handoffs.queue()
    await app.services.handoffs.claim(view.id, li)
    for bad in ("", "   ", "x" * 2001):
        with pytest.raises(BadAgentInput):
            await app.services.handoffs.reply(view.id, li, bad)


async def test_old_transcripts_and_web_logs_are_purged(app: App, clock: FixedClock) -> None:
    person = Chat(app, "web:0123456789abcdef0123456789abcdef")
    await person.say("/start")
    await app.services.outbox.put(person.conversation_id, [{"from": "bot", "text": "旧消息"}])
    await app.dispatcher.run_once()
    assert await transcript_texts(app, person.conversation_id)
    clock.advance(app.settings.transcript_retention_seconds + 1)
    await app.dispatcher.run_once()
    assert await transcript_texts(app, person.conversation_id) == []
    assert await app.services.outbox.since(person.conversation_id) == []


def test_numbers_are_masked_in_the_product_shapes() -> None:
    from dialogs.masking import mask_numbers

    assert mask_numbers("手机 13800138000") == "手机 138****8000"
    assert mask_numbers("证件 11010519491231002x") == "证件 110105********002X"
    assert mask_numbers("卡号 6222-0000-0000-1234") == "卡号 6222 **** **** 1234"
    assert mask_numbers("验证码 123456，日期 19900307") == "验证码 ******，日期 ********"
    assert mask_numbers("第 2 位，12345") == "第 2 位，12345"


async def test_a_command_word_at_the_name_question_is_not_masked_as_a_name(app: App, chat: Chat) -> None:
    await register_until(chat, "name")
    await chat.say("人工")
    lines = await transcript_texts(app, chat.conversation_id)
    assert ("user", "人工") in lines


@pytest.mark.parametrize(("typed", "hidden"), [
    # Every shape the answers' checks accept must be masked too (zero-width joins, dots, full width).
    ("1101\u200b0519\u200b9003\u200b0712\u200b39", "199003071239"),
    ("155.0000.0101", "15500000101"),
    ("155_0000_0101", "155_0000"),
    ("155－0000－0101", "0000"),
    ("１５５\u3000００００\u3000０１０１", "0000"),
    ("155\u200b0000\u200b0101", "0000"),
    ("6200/0000/0000/0000/018", "0000/0000"),
    ("卡号 6222.0000.1111.2222", "1111"),
    ("验证码 921.077", "921"),
    ("code: 921,077", "921"),
    ("110105/1990/0307/1239", "1990"),
    ("my password is Passw0rd!2026x", "Passw0rd"),
    ("…密码Zhengshu2026! 验证码692922", "Zhengshu"),
    ("PIN 4321", "4321"),
    ("pw Zhengshu2026!", "Zhengshu"),
    ("密碼 Zhengshu2026!", "Zhengshu"),
    ("密码 Ｚｈｅｎｇｓｈｕ２０２６！", "！"),
    ("Zhengshu2026! 就是它", "Zhengshu"),  # looks like a password: letters, digits and a symbol
    ("一五五零零零零零一零一", "零零零零"),
    ("1990年03月07日出生", "1990"),
    ("110105;1990;0307;1239", "1990"),
    ("110105|1990|0307|1239", "0307"),
    ("①⑤⑤⓪⓪⓪⓪⓪①⓪①", "⓪⓪"),
    ("我的密钥是 6DFR VJTC KHUT NGHF P3GR AYVM XZ25 GG5S", "VJTC"),  # an authenticator's setup key
    ("6DFRVJTCKHUTNGHFP3GRAYVMXZ25GG5S", "KHUT"),
    ("key: 6dfr-vjtc-khut-nghf-p3gr", "khut"),
])
def test_free_text_masks_every_accepted_shape(typed: str, hidden: str) -> None:
    from dialogs.masking import mask_free_text

    assert hidden not in mask_free_text(typed)


def test_free_text_masking_keeps_ordinary_words_readable() -> None:
    from dialogs.masking import mask_free_text

    assert mask_free_text("我的密码忘了，password reset 怎么办？") == "我的密码忘了，password reset 怎么办？"
    assert mask_free_text("2026-12-03 10:00 申请的，2026年12月3日") == "2026-12-03 10:00 申请的，2026年12月3日"
    assert mask_free_text("生日 1990-03-07") == "生日 ********"  # a date of birth is masked
    assert mask_free_text("shopping123 ok") == "shopping123 ok"
    assert mask_free_text("我叫王小明", ["王小明"]) == "我叫王*明"
    for spaced in ("王 小明", "王·小明", "王小\n明"):
        assert mask_free_text(spaced, ["王小明"]) == "王*明"
    assert mask_free_text("wangxm01 是我的登录名") == "wangxm01 是我的登录名"  # no symbol: a login name
    assert mask_free_text("internationalization ABCDEFGHIJKLMNOPQR") == "internationalization ABCDEFGHIJKLMNOPQR"


async def test_a_logged_in_persons_name_and_password_never_reach_the_agent(app: App, chat: Chat) -> None:
    """Words to an agent carry the person's own name and password hidden; the password check runs
    for the agents' copy only, so the person's echo is no oracle for guessing it."""
    await register(chat)
    await log_in(chat)
    await chat.say("转人工")
    (view,) = await app.services.handoffs.queue()
    await app.services.handoffs.claim(view.id, await agent(app))
    words = f"我是{P1['name']}，登录密码好像是 {PASSWORD} 对吗，手机 155.0000.0101"
    turn = Turn(channel="rest", conversation_id=chat.conversation_id, text=words, kind="text")
    echo = await app.engine.echo(turn)
    assert P1["name"] not in echo and "155.0000.0101" not in echo
    replies = await chat.say(words)
    assert replies == []  # the bot stays silent while the agent has it
    (line,) = [text for author, text in await transcript_texts(app, chat.conversation_id)
               if author == "user" and text.startswith("我是")]
    assert P1["name"] not in line and PASSWORD not in line and "0000" not in line
    assert "••••••" in line and "155****0101" in line


async def test_menu_or_cancel_said_to_an_agent_does_not_end_the_talk(app: App, chat: Chat) -> None:
    await register_until(chat, "phone")
    await chat.say("人工")
    (view,) = await app.services.handoffs.queue()
    await app.services.handoffs.claim(view.id, await agent(app))
    for word in ("菜单", "取消", "/start"):
        replies = await chat.say(word)
        assert texts_of(replies) == T("agent.how_to_leave")
        assert ("user", word) in await transcript_texts(app, chat.conversation_id)
    assert (await app.services.handoffs.open_for(chat.conversation_id)) is not None
    replies = await chat.say("返回机器人")
    assert texts_of(replies).startswith(T("agent.left"))
    assert last_text(replies) == T("register.phone.prompt")  # the open step is kept


async def test_credit_data_never_reaches_the_agents_transcript(app: App, clock: FixedClock) -> None:
    """A result's text and the questions built from the person's credit file (with the answers
    picked) are the person's credit data: the agent sees that they were there, not what they said."""
    from dialogs.engine import PRIVATE_PLACEHOLDER

    person = Chat(app, "rest:credit-person")
    await quick_user(person, P2, "lijg1969")
    await submit_request(person, "summary", P2)
    clock.advance(app.settings.report_delay_seconds + 1)
    assert await app.dispatcher.run_once() == 1
    replies = await person.say(await person.last_code(P2["phone"]))
    summary = next(r.text for r in replies if getattr(r, "private", False))
    asked_first = await person.tap("/question_verify")
    question = last_text(asked_first)
    await person.tap("/q1:0")
    await person.say("人工")
    lines = await transcript_texts(app, person.conversation_id)
    shown = "\n".join(text for _, text in lines)
    assert summary not in shown and question not in shown
    assert [text for author, text in lines if author == "bot"].count(PRIVATE_PLACEHOLDER) >= 2
    assert ("user", "••••••") in lines  # the answer picked


async def test_words_before_the_handoff_get_the_same_care(app: App, chat: Chat) -> None:
    """The agent reads the conversation from its start: a logged-in person's name and password typed
    before asking for a person are hidden there too."""
    await register(chat)
    await log_in(chat)
    await chat.say(f"我是{P1['name'].replace('小', ' 小')}")
    await chat.say(PASSWORD)  # typed where no question asked for it
    await chat.say("转人工")
    lines = "\n".join(text for author, text in await transcript_texts(app, chat.conversation_id) if author == "user")
    assert PASSWORD not in lines and "小明" not in lines


async def test_the_agent_sees_that_the_person_left(app: App, chat: Chat) -> None:
    await register_until(chat, "phone")
    await chat.say("人工")
    li = await agent(app)
    (view,) = await app.services.handoffs.queue()
    await app.services.handoffs.claim(view.id, li)
    await chat.say("返回机器人")
    ended = await app.services.handoffs.get(view.id, li)
    assert (ended.status, ended.ended_by) == ("returned", "person")
    lines = [(line.author, line.text) for line in await app.services.handoffs.transcript(ended)]
    assert lines[-2:] == [("user", "返回机器人"), ("system", T("agent.person_left"))]


async def test_a_language_button_at_a_secret_question_is_not_shown_as_a_secret(app: App, chat: Chat) -> None:
    await register_until(chat, "password")
    for text, shown in (("/lang en", "/lang en"), ("Abc12345!", "••••••"), ("/notacommand x", "••••••")):
        turn = Turn(channel="rest", conversation_id=chat.conversation_id, text=text, kind="button")
        assert await app.engine.echo(turn) == shown


async def test_after_a_restart_that_lost_the_state_an_active_handoff_still_holds(app: App, chat: Chat) -> None:
    """In-process state dies with the process; the desk's row does not. Without it the person's words
    went to the bot while the agent kept writing to someone who could no longer answer or leave."""
    await register_until(chat, "phone")
    await chat.say("/lang en")
    await chat.say("人工")
    li = await agent(app)
    (view,) = await app.services.handoffs.queue()
    await app.services.handoffs.claim(view.id, li)
    await app.engine.reset(chat.conversation_id)  # what a restart does to an in-process store
    replies = await chat.say("are you still there?")
    assert replies == []  # forwarded to the agent, not answered by the bot
    assert ("user", "are you still there?") in await transcript_texts(app, chat.conversation_id)
    replies = await chat.say("返回机器人")
    assert texts_of(replies).startswith(EN("agent.left"))  # the language came back from the desk
    assert await app.services.handoffs.open_for(chat.conversation_id) is None


async def test_back_to_bot_ends_a_handoff_the_state_forgot(app: App, chat: Chat) -> None:
    await chat.say("人工")
    # A state that knows nothing of the handoff the database still holds open.
    state = await app.engine.load(Turn(channel="rest", conversation_id=chat.conversation_id, text="x"))
    state.pop("handoff")  # type: ignore[misc]
    await app.engine.save(chat.conversation_id, state)
    assert await app.services.handoffs.open_for(chat.conversation_id) is not None
    replies = await chat.say("/bot")
    assert texts_of(replies).startswith(T("agent.left"))
    assert await app.services.handoffs.open_for(chat.conversation_id) is None


async def test_a_flow_lost_in_a_restart_is_told_at_the_next_message_once(app: App, chat: Chat) -> None:
    await register_until(chat, "password")
    await app.engine.reset(chat.conversation_id)
    replies = await chat.say(PASSWORD)  # meant for the question the restart forgot
    assert T("session.state_lost") in texts_of(replies) and PASSWORD not in texts_of(replies)
    assert await app.services.deadlines.count(chat.conversation_id) == 0  # no second notice later
    replies = await chat.say("你好")
    assert T("session.state_lost") not in texts_of(replies)


@pytest.mark.parametrize("typed", ["阿依古丽•买买提", "我叫阿依古丽 买买提", "阿依古丽.买买提"])
async def test_a_name_given_earlier_and_typed_again_at_another_question_is_masked(app: App, chat: Chat,
                                                                                typed: str) -> None:
    """Masks follow the question, and names have no pattern: the one this flow already holds is known."""
    await chat.tap("/register")
    await chat.say(P4["name"])
    await chat.say(typed)  # at the document-type question, where nothing is masked by its kind
    await chat.say("人工")
    lines = [text for _, text in await transcript_texts(app, chat.conversation_id)]
    assert not any("买买提" in text for text in lines), lines
    assert sum(mask_name(P4["name"]) in text for text in lines) == 2, lines  # the answer and the retyped one


async def test_leaving_the_queue_with_a_word_records_that_word_once(app: App, chat: Chat) -> None:
    await chat.say("人工")
    await chat.say("菜单")  # while waiting: leaves the queue, then shows the menu
    said = [text for author, text in await transcript_texts(app, chat.conversation_id) if author == "user"]
    assert said == ["人工", "菜单"]
