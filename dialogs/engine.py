"""The dialog engine: one turn at a time per conversation; global commands first, then the active flow.

How a turn runs (`Engine.handle`):

1. Take the conversation's lock (in-process, or in Redis when several processes serve), load its
   state, and log it out if it was idle past the log-in limit: a flow that needs the log-in is
   then started again behind the log-in flow, and the message meant for its old question dropped.
2. If the open question is secret (password, card number, code), the user's message is deleted
   from the chat first, whatever happens next.
3. Global commands act first (help, cancel, back, language, menu, ...). Inside a question only a
   message that is exactly a command word counts, so a name that contains "help" still answers it;
   at a secret question an unknown "/word" is the answer (a password may start with "/"), never
   echoed back as an unknown command.
4. Otherwise the active flow gets the input: the open slot is validated by the flow's
   `validate_<slot>`; a valid value fills it and the next unfilled slot is asked; when all are
   filled, `on_complete` runs. Flows nest: `ctx.call(flow)` parks the current flow on a stack and
   resumes it, with the sub-flow's `ctx.returns`, when the sub-flow completes. A question asked
   again (wrong answer, help, a sticker, language switch) shows its prompt again; the `ask_` hook
   of a code question (which texts the code) runs only when it is first asked and on /resend.
5. Without an active flow, free text goes to intent recognition and may start a flow.
6. State is saved only when the turn succeeded; an unexpected error leaves the previous state.
   Only the user's own turns count as activity for the log-in idle limit, not pushed notices.
"""

from __future__ import annotations

import inspect
import logging
import re
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

from backend.errors import AccountNotFoundError
from backend.identity_rules import clean_text
from backend.kv import KeyValueStore
from backend.services import Services
from dialogs import texts
from dialogs.catalog import LANGS, Translator, pick_lang
from dialogs.context import Ctx, Transition
from dialogs.forms import Form, Invalid, Slot, Valid, choice_payload
from dialogs.intents import Intent, global_word, recognise
from dialogs.masking import SECRET, hide, mask_input, mask_names, mask_numbers, normalise, password_candidates
from dialogs.types import UNRECORDED, ConversationState, Delete, Document, Frame, Image, Reply, Text, Turn

logger = logging.getLogger(__name__)

Recogniser = Callable[[str], Any]

# Commands any message (typed "/help" or a button payload) can give, and the intents that start flows.
COMMANDS = {"start", "menu", "help", "cancel", "back", "lang", "lang_en", "lang_zh", "logout", "resend",
            "agent", "bot"}
# What still works while an agent has the conversation (or it waits for one): the rest goes to them.
HANDOFF_COMMANDS = {"agent", "bot", "help", "lang", "lang_en", "lang_zh"}
LEAVE_HANDOFF = {"start", "menu", "cancel", "logout"}  # leave the agent first, then act
MAX_DEPTH = 4
LOST = "lost"  # flow_expired's value when the store forgot an open flow (restart of an in-process store)
NOT_STARTED = "__not_started__"  # a flow parked before its on_start ran (log-in came first)
BUTTON_PAYLOAD = re.compile(r"/([a-z_]+):\S*")  # choice_payload(): "/<slot>:<value>"


class Engine:
    def __init__(self, services: Services, flows: dict[str, Form], store: KeyValueStore,
                 recogniser: Recogniser | None = None) -> None:
        self.services = services
        self.flows = flows
        self.store = store
        self._recognise = recogniser or _local_recogniser
        self._intent_flows = {t: f.id for f in flows.values() for t in f.triggers}
        self._translators = tuple(Translator(lang) for lang in LANGS)

    # -- entry points -------------------------------------------------------------------------

    async def handle(self, turn: Turn) -> list[Reply]:
        async with self.store.lock(_lock_key(turn.conversation_id)):
            state = await self.load(turn)
            ctx = Ctx(turn, state, self.services)
            if state.get("handoff") and await self._with_agent(ctx):
                await self.save(turn.conversation_id, ctx.state)
                return ctx.replies
            echo = await self._masked_own(turn, state, self._echo(turn, state), own_password=True)
            await self._turn(ctx)
            _remember_buttons(ctx)
            unrecorded = ctx.state.pop(UNRECORDED, False)  # type: ignore[misc]
            await self.save(turn.conversation_id, ctx.state)
            if not unrecorded:
                said = [] if ctx.user_recorded else [("user", echo)]
                await self._record(turn.conversation_id, said, ctx.replies, ctx.state.get("handoff"))
            return ctx.replies

    async def push(self, turn: Turn, flow_id: str, lead: tuple[str, dict[str, Any]] | None = None,
                   **preset: Any) -> list[Reply]:
        """Starts a flow the user did not ask for (a result is ready), parking whatever was open."""
        async with self.store.lock(_lock_key(turn.conversation_id)):
            ctx = Ctx(turn, await self.load(turn), self.services)
            if lead:
                ctx.say(lead[0], **lead[1])
            if ctx.state.get("flow"):
                self._park(ctx.state)
            await self._start(ctx, flow_id, preset)
            _remember_buttons(ctx)
            await self.save(turn.conversation_id, ctx.state, touch=False)
            await self._record(turn.conversation_id, [], ctx.replies)
            return ctx.replies

    async def echo(self, turn: Turn) -> str:
        """The user's message as others may see it (web chat echo, agents' transcript), masked for
        the question it answers; read before the turn runs, since the turn moves the question on."""
        state = await self.load(turn)
        return await self._masked_own(turn, state, self._echo(turn, state), own_password=False)

    async def _masked_own(self, turn: Turn, state: ConversationState, shown: str, own_password: bool) -> str:
        """`shown` (already masked for the question it answers) with the logged-in person's own name
        masked and, in the agents' copy only (never in the echo the person sees, so it is no guessing
        oracle), any token that is their password hidden: typed by mistake or in words to an agent."""
        account_id = state.get("account_id")
        if turn.kind != "text" or shown == SECRET:
            return shown
        # Names this conversation already gave (a registration's, a card holder's), typed again at
        # another question: the mask follows the question, so a name there would be shown as typed.
        names = [frame_slots.get("name") for frame_slots in _open_slots(state)]
        if account_id is None:
            return mask_names(shown, [n for n in names if isinstance(n, str)])
        raw = normalise(turn.text or "").strip()
        accounts = self.services.accounts
        pairs = password_candidates(raw) if own_password else []
        try:
            names.append((await accounts.get(account_id)).name)
            matched = set(await accounts.passwords_among(account_id, [plain for _, plain in pairs])) if pairs else set()
        except AccountNotFoundError:
            return shown
        typed = [token for token, plain in pairs if plain in matched]
        shown = hide(shown, [form for token in typed for form in (token, mask_numbers(token))])
        return mask_names(shown, [n for n in names if isinstance(n, str)])

    def _echo(self, turn: Turn, state: ConversationState) -> str:
        if state.get("handoff"):  # words for the agent, not an answer to the open question
            return mask_input(turn.text, turn.kind)
        slot = self._asked_slot(state)
        secret = bool(state.get("secret_pending")) or (slot is not None and (slot.hidden or slot.private))
        if secret and self._is_spaced_command(turn.text):  # "/lang en" from a header button
            secret = False
        if not secret and self._is_command(turn.text):  # "人工" at the name question is no name
            return mask_input(turn.text, turn.kind)
        return mask_input(turn.text, turn.kind, slot.name if slot else None, secret)

    def _is_spaced_command(self, text: str | None) -> bool:
        """"/lang en" and the like: a command with an argument, which no secret answer can be (no
        password, code or card number starts with "/" and holds a space)."""
        text = (text or "").strip()
        name = text[1:].partition(" ")[0].split("@", 1)[0].lower()
        return text.startswith("/") and " " in text and self._is_command(text) and self._known_command(name)

    def _is_command(self, text: str | None) -> bool:
        """The same test as _command_of, for a question that is not secret."""
        text = (text or "").strip()
        if text.startswith("/"):
            return ":" not in text[1:].partition(" ")[0]
        return bool(text) and global_word(text) is not None

    async def resume(self, conversation_id: str, lead: str, **params: Any) -> list[Reply]:
        """The agent handed the conversation back (or closed it, or nobody came): the bot takes
        over where the flow stood and asks its open question again."""
        async with self.store.lock(_lock_key(conversation_id)):
            turn = Turn(channel=conversation_id.split(":", 1)[0], conversation_id=conversation_id, kind="other")
            ctx = Ctx(turn, await self.load(turn), self.services)
            if ctx.state.pop("handoff", None) is None:  # type: ignore[misc]
                return []
            ctx.say(lead, **params)
            await self._reask_or_menu(ctx)
            await self.save(conversation_id, ctx.state)  # the flow's idle timer starts again now
            await self._record(conversation_id, [], ctx.replies)
            return ctx.replies

    async def in_handoff(self, conversation_id: str) -> bool:
        session = await self.store.get(_state_key(conversation_id))
        return bool(session and session.get("handoff"))

    async def _record(self, conversation_id: str, lines: list[tuple[str, str]], replies: list[Reply],
                      handoff_id: int | None = None) -> None:
        """The transcript an agent may read later: already masked input, and the bot's own texts."""
        bot = [("bot", text) for reply in replies if (text := _transcript_text(reply))]
        lines = [line for line in lines if line[1]] + bot
        if lines:
            await self.services.handoffs.record(conversation_id, lines, handoff_id)

    async def load(self, turn: Turn) -> ConversationState:
        """The session (language, log-in) lives long; the open flow only as long as its timeout (B02)."""
        cid = turn.conversation_id
        session = await self.store.get(_state_key(cid))
        if session is None:
            return await self._unknown(turn)
        flow = await self.store.get(_flow_key(cid))
        held = bool(session.get("handoff"))  # an agent has it: the flow waits for the bot's return
        if session.get("in_flow") and (flow is None or (not held and self._flow_idle(session))):
            return {**session, **_empty_flow(), "flow_expired": True}  # type: ignore[typeddict-item]
        return {**session, **(flow or _empty_flow())}  # type: ignore[typeddict-item]

    async def _unknown(self, turn: Turn) -> ConversationState:
        """A conversation the store does not know: new, or forgotten (an in-process store and a restart,
        or an expired session). The database remembers what must outlive that: an agent who still holds
        the conversation, and a flow that was open (its deadline row)."""
        cid = turn.conversation_id
        session: dict[str, Any] = {"lang": pick_lang(turn.locale)}
        view = await self.services.handoffs.open_for(cid)
        if view is not None:  # the person's words still go to the agent, not to the bot
            lang = view.context.get("lang")
            return {**session, "lang": lang if lang in LANGS else session["lang"], "handoff": view.id,
                    **_empty_flow()}  # type: ignore[typeddict-item]
        if await self.services.deadlines.count(cid):
            # Said now, once; in_flow makes save() clear the deadline row, so no second notice follows.
            return {**session, "in_flow": True, **_empty_flow(), "flow_expired": LOST}  # type: ignore[typeddict-item]
        return {**session, **_empty_flow()}  # type: ignore[typeddict-item]

    def _flow_idle(self, session: dict[str, Any]) -> bool:
        idle = self.services.clock.now().timestamp() - session.get("last_active", 0)
        return idle >= self.services.settings.flow_timeout_seconds

    async def save(self, conversation_id: str, state: ConversationState, touch: bool = True) -> None:
        """`touch`: this was the user's own turn, so the idle times start again."""
        now = self.services.clock.now()
        if touch or "last_active" not in state:
            state["last_active"] = now.timestamp()
        session = {k: v for k, v in state.items() if k not in FLOW_KEYS and k != "flow_expired"}
        was_in_flow, in_flow = bool(session.get("in_flow")), bool(state.get("flow"))
        session["in_flow"] = in_flow
        asked = self._asked_slot(state)
        session["secret_pending"] = bool(asked and asked.hidden)
        settings = self.services.settings
        held, was_held = bool(state.get("handoff")), bool(state.get("flow_held"))
        session["flow_held"] = held and in_flow
        await self.store.set(_state_key(conversation_id), session, ttl=settings.conversation_ttl_seconds)
        if in_flow:
            flow = {k: state.get(k) for k in FLOW_KEYS}
            ttl = settings.conversation_ttl_seconds if held else settings.flow_timeout_seconds
            await self.store.set(_flow_key(conversation_id), flow, ttl=ttl)
            if held and not was_held:
                await self.services.deadlines.clear(conversation_id)
            elif not held and (not was_in_flow or was_held):
                due = now + timedelta(seconds=settings.flow_timeout_seconds)
                await self.services.deadlines.set(conversation_id, due)
        elif was_in_flow:
            await self.store.delete(_flow_key(conversation_id))
            await self.services.deadlines.clear(conversation_id)

    async def expire(self, conversation_id: str) -> list[Reply]:
        """Called when a flow's deadline passed: one notice if it is really idle, else a later deadline."""
        async with self.store.lock(_lock_key(conversation_id)):
            session = await self.store.get(_state_key(conversation_id))
            if session is None:
                # The state was lost (an in-process store and a restart): still tell the person.
                session = {"in_flow": True, "last_active": 0}
                await self.store.set(_state_key(conversation_id), session,
                                     ttl=self.services.settings.conversation_ttl_seconds)
            if not session.get("in_flow") or session.get("handoff"):
                return []
            if not self._flow_idle(session):
                due = session.get("last_active", 0) + self.services.settings.flow_timeout_seconds
                await self.services.deadlines.set(conversation_id, datetime.fromtimestamp(due, timezone.utc))
                return []
            turn = Turn(channel=conversation_id.split(":", 1)[0], conversation_id=conversation_id, kind="other")
            ctx = Ctx(turn, await self.load(turn), self.services)
            ctx.state.pop("flow_expired", None)  # type: ignore[misc]
            ctx.say("session.flow_expired")
            texts.menu(ctx)
            await self.save(conversation_id, ctx.state, touch=False)
            await self._record(conversation_id, [], ctx.replies)
            return ctx.replies

    async def reset(self, conversation_id: str) -> None:
        await self.store.delete(_state_key(conversation_id))
        await self.store.delete(_flow_key(conversation_id))

    # -- one turn -----------------------------------------------------------------------------

    async def _turn(self, ctx: Ctx) -> None:
        self._delete_secret_input(ctx)
        if self._flow_expired(ctx) or await self._expire_login(ctx):
            return
        command = self._command_of(ctx)
        if command is not None:
            await self._command(ctx, *command)
        elif ctx.state.get("flow"):
            await self._answer(ctx)
        else:
            await self._free_text(ctx)

    def _flow_expired(self, ctx: Ctx) -> bool:
        """The open flow timed out: say so once; the late input is not taken as an answer (B02)."""
        why = ctx.state.pop("flow_expired", False)  # type: ignore[misc]
        if not why:
            return False
        if ctx.state.get("secret_pending") and ctx.turn.message_ref and ctx.turn.kind in ("text", "file"):
            ctx.add(Delete(ctx.turn.message_ref))
        if ctx.state.get("account_id") is not None and self._login_idle(ctx):
            ctx.state["account_id"] = None
            ctx.say("session.login_expired")
        ctx.say("session.state_lost" if why == LOST else "session.flow_expired")
        if self._command_of(ctx) is not None:
            return False
        texts.menu(ctx)
        return True

    def _delete_secret_input(self, ctx: Ctx) -> None:
        slot = self._asked_slot(ctx.state)
        # A hidden slot's answer is deleted from the chat: typed secrets, and a file such as a
        # PKCS#12 certificate, which carries a private key.
        if slot is not None and slot.hidden and ctx.turn.message_ref and ctx.turn.kind in ("text", "file"):
            ctx.add(Delete(ctx.turn.message_ref))

    async def _expire_login(self, ctx: Ctx) -> bool:
        """Logs out after the idle limit; True when that used up the turn (see the module doc)."""
        if ctx.state.get("account_id") is None:
            return False
        if not self._login_idle(ctx):
            return False
        ctx.state["account_id"] = None
        ctx.forget_account()
        ctx.say("session.login_expired")
        guarded = self._login_flow_open(ctx.state)
        if guarded is None:
            return False
        self._clear_flows(ctx.state)
        if self._command_of(ctx) is not None:
            return False
        await self._start(ctx, guarded, {})
        return True

    def _login_idle(self, ctx: Ctx) -> bool:
        idle = self.services.clock.now().timestamp() - ctx.state.get("last_active", 0)
        return idle > self.services.settings.login_idle_seconds

    def _login_flow_open(self, state: ConversationState) -> str | None:
        """The outermost open flow that needs a log-in, if any."""
        ids = [frame["flow"] for frame in state.get("stack") or []] + [state.get("flow") or ""]
        return next((i for i in ids if i in self.flows and self.flows[i].requires_login), None)

    def _command_of(self, ctx: Ctx) -> tuple[str, str] | None:
        """("command", argument) for slash commands and exact command words; None otherwise."""
        text = (ctx.turn.text or "").strip()
        if text.startswith("/"):
            name, _, arg = text[1:].partition(" ")
            name = name.split("@", 1)[0].lower()
            if ":" in name or (self._secret_asked(ctx) and not self._known_command(name)):
                return None
            return name, arg.strip()
        word = global_word(text) if text else None
        return (word, "") if word else None

    def _secret_asked(self, ctx: Ctx) -> bool:
        slot = self._asked_slot(ctx.state)
        return slot is not None and slot.hidden

    def _known_command(self, name: str) -> bool:
        return name in COMMANDS or name in self.flows or name in self._intent_flows

    async def _command(self, ctx: Ctx, name: str, arg: str) -> None:
        handler = getattr(self, f"_cmd_{name}", None)
        if handler is not None:
            await handler(ctx, arg)
        elif name in self.flows or name in self._intent_flows:
            await self._begin(ctx, self._intent_flows.get(name, name), arg)
        else:
            ctx.say("error.unknown_command", command=name)
            await self._reask_or_menu(ctx)

    async def _free_text(self, ctx: Ctx) -> None:
        if ctx.turn.kind not in ("text", "button") or not ctx.turn.text:
            ctx.say("error.not_text_idle")
            texts.menu(ctx)
            return
        picked = self._numbered_button(ctx)
        if picked is not None and not BUTTON_PAYLOAD.fullmatch(picked):  # "2" for the second button shown
            name, _, arg = picked[1:].partition(" ")
            await self._command(ctx, name, arg.strip())
            return
        if BUTTON_PAYLOAD.fullmatch(picked or ctx.turn.text.strip()):  # an answer button of a finished question
            ctx.say("error.stale_button_idle")
            texts.menu(ctx)
            return
        intent = await self._intent(ctx.turn.text)
        if intent is None:
            ctx.say("error.not_understood")
            texts.menu(ctx)
        elif intent.name in ("help", "cancel", "back", "menu", "logout", "lang_en", "lang_zh", "agent"):
            await self._command(ctx, intent.name, "")
        else:
            await self._begin(ctx, self._intent_flows.get(intent.name, intent.name), "")

    @staticmethod
    def _numbered_button(ctx: Ctx) -> str | None:
        """The payload of the last message's button that a typed number ("2", "２", "2.") names."""
        typed = _as_typed(ctx.turn.text or "")
        shown = ctx.state.get("buttons") or []
        if typed.isdigit() and 1 <= int(typed) <= len(shown):
            return str(shown[int(typed) - 1])
        return None

    async def _intent(self, text: str) -> Intent | None:
        result = self._recognise(text)
        if inspect.isawaitable(result):
            result = await result
        return result  # type: ignore[no-any-return]

    # -- global commands ----------------------------------------------------------------------

    async def _cmd_start(self, ctx: Ctx, arg: str) -> None:
        self._clear_flows(ctx.state)
        ctx.say("welcome")
        texts.menu(ctx)

    async def _cmd_menu(self, ctx: Ctx, arg: str) -> None:
        self._clear_flows(ctx.state)
        texts.menu(ctx)

    async def _cmd_help(self, ctx: Ctx, arg: str) -> None:
        flow = ctx.state.get("flow")
        ctx.say(f"help.{flow}" if flow and ctx.t.has(f"help.{flow}") else "help.general")
        await self._reask_or_menu(ctx)

    async def _cmd_cancel(self, ctx: Ctx, arg: str) -> None:
        had_flow = bool(ctx.state.get("flow"))
        await self._abandon(ctx)
        ctx.say("cancelled" if had_flow else "nothing_to_cancel")
        texts.menu(ctx)

    async def _cmd_back(self, ctx: Ctx, arg: str) -> None:
        flow, slot = self._flow(ctx.state), self._asked_slot(ctx.state)
        if flow is None or slot is None:
            ctx.say("back.nothing")
            await self._reask_or_menu(ctx)
            return
        previous = self._previous_slot(ctx, flow, slot)
        if previous is None:
            ctx.say("back.first")
            await self._reask_or_menu(ctx)
            return
        ctx.clear(previous.name, slot.name)
        await self._advance(ctx)

    async def _cmd_lang(self, ctx: Ctx, arg: str) -> None:
        await self._switch_lang(ctx, arg or ("en" if ctx.lang == "zh" else "zh"))

    async def _cmd_lang_en(self, ctx: Ctx, arg: str) -> None:
        await self._switch_lang(ctx, "en")

    async def _cmd_lang_zh(self, ctx: Ctx, arg: str) -> None:
        await self._switch_lang(ctx, "zh")

    async def _switch_lang(self, ctx: Ctx, lang: str) -> None:
        ctx.state["lang"] = "en" if lang.lower().startswith("en") else "zh"
        ctx.t = type(ctx.t)(ctx.state["lang"])
        ctx.say("lang.switched")
        await self._reask_or_menu(ctx)

    async def _cmd_logout(self, ctx: Ctx, arg: str) -> None:
        self._clear_flows(ctx.state)
        was_in = ctx.state.get("account_id") is not None
        ctx.state["account_id"] = None
        ctx.say("logout.done" if was_in else "logout.not_logged_in")
        texts.menu(ctx)

    async def _cmd_resend(self, ctx: Ctx, arg: str) -> None:
        slot = self._asked_slot(ctx.state)
        if slot is None or slot.kind != "code":
            ctx.say("resend.nothing")
            await self._reask_or_menu(ctx)
            return
        await self._ask(ctx, slot)

    async def _cmd_agent(self, ctx: Ctx, arg: str) -> None:
        """Queue for a person, with where this conversation stands; never what was answered."""
        level = (await ctx.account()).security_level if ctx.account_id is not None else None
        asked = ctx.state.get("asked")
        context = {"flow": ctx.state.get("flow"), "step": None if asked == NOT_STARTED else asked,
                   "lang": ctx.lang, "level": level, "logged_in": ctx.account_id is not None}
        desk = self.services.handoffs
        view, position = await desk.request(ctx.conversation_id, context)
        ctx.state["handoff"] = view.id
        minutes = max(1, desk.wait_seconds // 60)
        ctx.say("agent.queued", position=position, minutes=minutes,
                buttons=(ctx.button("agent.back_button", "/bot"),))

    async def _cmd_bot(self, ctx: Ctx, arg: str) -> None:
        # A handoff the state lost track of still ends here, so no agent goes on writing into the void.
        ended = await self.services.handoffs.leave(ctx.conversation_id)
        ctx.say("agent.left" if ended is not None else "agent.not_in_handoff")
        await self._reask_or_menu(ctx)

    # -- while an agent has the conversation ------------------------------------------------

    async def _with_agent(self, ctx: Ctx) -> bool:
        """The turn of a conversation handed to an agent; False when the handoff is over after all
        (ended elsewhere) or the command leaves it, so the bot handles the turn as usual."""
        desk = self.services.handoffs
        view = await desk.open_for(ctx.conversation_id)
        if view is None or view.id != ctx.state.get("handoff"):
            ctx.state.pop("handoff", None)  # type: ignore[misc]
            return False
        command = self._handoff_command(ctx)
        if command in LEAVE_HANDOFF and command != "logout" and view.status == "active":
            command = None  # "菜单", "取消" said to a person are words for them, not a way out
            ctx.say("agent.how_to_leave")
        if command in LEAVE_HANDOFF or command == "bot":
            # Written before the end, so the handoff's own transcript (read up to its end) shows it.
            await desk.record(ctx.conversation_id, [("user", self._echo(ctx.turn, ctx.state)),
                                                    ("system", ctx.t("agent.person_left"))], view.id)
            ctx.user_recorded = True
            await desk.leave(ctx.conversation_id)
            ctx.state.pop("handoff", None)  # type: ignore[misc]
            ctx.say("agent.left")
            if command == "bot":
                await self._reask_or_menu(ctx)
                return True
            return False
        if command == "agent":
            position = await desk.position(view)
            ctx.say("agent.waiting" if position else "agent.with_agent", position=position)
        elif command in ("lang", "lang_en", "lang_zh"):
            lang = (self._command_of(ctx) or ("", ""))[1] or ("en" if ctx.lang == "zh" else "zh")
            lang = {"lang_en": "en", "lang_zh": "zh"}.get(command, lang)
            ctx.state["lang"] = "en" if lang.lower().startswith("en") else "zh"
            ctx.t = type(ctx.t)(ctx.state["lang"])
            ctx.say("lang.switched")
        elif command == "help":
            ctx.say("agent.help")
        elif ctx.turn.kind not in ("text", "button") or not (ctx.turn.text or "").strip():
            ctx.say("agent.text_only")
        else:
            shown = await self._masked_own(ctx.turn, ctx.state, self._echo(ctx.turn, ctx.state), own_password=True)
            await desk.record(ctx.conversation_id, [("user", shown)], view.id)
            if view.status == "waiting":
                ctx.say("agent.waiting", position=await desk.position(view))
        if ctx.replies:
            await self._record(ctx.conversation_id, [], ctx.replies, view.id)
        return True

    def _handoff_command(self, ctx: Ctx) -> str | None:
        text = (ctx.turn.text or "").strip()
        if text.startswith("/"):
            name = text[1:].partition(" ")[0].split("@", 1)[0].lower()
            return name if name in HANDOFF_COMMANDS | LEAVE_HANDOFF else None
        word = global_word(text) if text else None
        return word if word in HANDOFF_COMMANDS | LEAVE_HANDOFF else None

    # -- flows --------------------------------------------------------------------------------

    async def _begin(self, ctx: Ctx, flow_id: str, arg: str) -> None:
        if flow_id not in self.flows:
            ctx.say("error.unknown_command", command=flow_id)
            texts.menu(ctx)
            return
        if not (flow_id == "login" and self._login_awaited(ctx.state)):
            self._clear_flows(ctx.state)  # "/login" typed at the log-in a flow waits for keeps that flow
        await self._start(ctx, flow_id, {"arg": arg} if arg else {})

    @staticmethod
    def _login_awaited(state: ConversationState) -> bool:
        stack = state.get("stack") or []
        return state.get("flow") == "login" and bool(stack) and stack[-1].get("asked") == NOT_STARTED

    async def _start(self, ctx: Ctx, flow_id: str, preset: dict[str, Any]) -> None:
        flow = self.flows[flow_id]
        if flow.requires_login and ctx.state.get("account_id") is None:
            ctx.state["flow"], ctx.state["slots"], ctx.state["asked"] = flow_id, dict(preset), NOT_STARTED
            self._park(ctx.state)
            ctx.say("login.required")
            flow_id, flow, preset = "login", self.flows["login"], {}
        ctx.state["flow"], ctx.state["slots"], ctx.state["asked"] = flow_id, dict(preset), None
        ctx.transition = None
        await flow.on_start(ctx)
        if not await self._follow(ctx):
            await self._advance(ctx)

    async def _answer(self, ctx: Ctx) -> None:
        flow, slot = self._flow(ctx.state), self._asked_slot(ctx.state)
        if flow is None or slot is None:
            self._clear_flows(ctx.state)
            await self._free_text(ctx)
            return
        if self._stale_button(ctx, slot):
            ctx.say("error.stale_button")
            await self._ask(ctx, slot, fresh=False)
            return
        value = self._raw_value(ctx, slot)
        if value is None:
            ctx.say("error.not_file" if slot.kind == "file" else "error.not_text")
            await self._ask(ctx, slot, fresh=False)
            return
        result = await self._validate(ctx, flow, slot, value)
        if isinstance(result, Invalid):
            await self._reject(ctx, flow, slot, result)
            return
        ctx.put(slot.name, result.value, secret=slot.hidden)
        if not await self._follow(ctx):
            await self._advance(ctx)

    @staticmethod
    def _stale_button(ctx: Ctx, slot: Slot) -> bool:
        """A button of an earlier question tapped again (Telegram keeps old keyboards)."""
        match = BUTTON_PAYLOAD.fullmatch((ctx.turn.text or "").strip())
        return not slot.hidden and match is not None and match.group(1) != slot.name

    def _raw_value(self, ctx: Ctx, slot: Slot) -> Any:
        turn = ctx.turn
        if slot.kind == "file":
            return turn.attachment
        if turn.kind not in ("text", "button") or turn.text is None:
            return None
        text = turn.text.strip()
        if slot.kind == "choice":
            return self._choice_value(ctx, slot, text)
        return turn.text if slot.hidden else text

    def _choice_value(self, ctx: Ctx, slot: Slot, text: str) -> str:
        choices = self._choices(ctx, slot)
        prefix = f"/{slot.name}:"
        if text.startswith(prefix):
            return text[len(prefix):]
        typed = _as_typed(text).lower()
        for index, choice in enumerate(choices, start=1):
            labels = {clean_text(t(choice.label_key)).lower() for t in self._translators}  # either language
            if typed in (choice.value.lower(), str(index)) or typed in labels:
                return choice.value
        return text

    async def _validate(self, ctx: Ctx, flow: Form, slot: Slot, value: Any) -> Valid | Invalid:
        if slot.kind == "choice":
            values = [c.value for c in self._choices(ctx, slot)]
            if value not in values:
                return Invalid("choice.unknown")
        hook = flow.hook("validate", slot.name)
        if hook is None:
            return Valid(value)
        result = hook(value, ctx)
        return await result if inspect.isawaitable(result) else result  # type: ignore[no-any-return]

    async def _reject(self, ctx: Ctx, flow: Form, slot: Slot, invalid: Invalid) -> None:
        keys = [f"{flow.id}.{slot.name}.{invalid.reason}", f"error.{invalid.reason}"]
        ctx.add(Text(ctx.t.first(keys, **invalid.params)))
        if await self._follow(ctx):
            return
        if invalid.reask:
            await self._ask(ctx, slot, fresh=False)
            await self._follow(ctx)
        else:
            await self._advance(ctx)

    async def _advance(self, ctx: Ctx) -> None:
        """Ask the next unfilled slot, or complete the flow and resume the one beneath it."""
        for _ in range(MAX_DEPTH + 1):
            flow = self._flow(ctx.state)
            if flow is None:
                return
            slot = await self._next_slot(ctx, flow)
            if slot is not None:
                await self._ask(ctx, slot)
                await self._follow(ctx)
                return
            ctx.state["asked"] = None
            await flow.on_complete(ctx)
            if await self._follow(ctx) or not await self._resume(ctx):
                return
        logger.error("flow loop did not settle in %s", ctx.state.get("flow"))

    async def _next_slot(self, ctx: Ctx, flow: Form) -> Slot | None:
        for slot in flow.slots:
            if slot.name in ctx.slots:
                continue
            skip = flow.hook("skip", slot.name)
            if skip is not None and await _maybe_await(skip(ctx)):
                continue
            return slot
        return None

    async def _ask(self, ctx: Ctx, slot: Slot, fresh: bool = True) -> None:
        """Ask a slot; `fresh=False` asks it again, and a code question then sends no new code."""
        flow = self._flow(ctx.state)
        assert flow is not None
        ctx.state["asked"] = slot.name
        hook = flow.hook("ask", slot.name)
        if hook is not None and (fresh or slot.kind != "code"):
            await _maybe_await(hook(ctx))
            if ctx.transition is not None or ctx.state.get("asked") != slot.name:
                return
        if slot.kind == "flow":
            return
        buttons = tuple(ctx.button(c.label_key, choice_payload(slot.name, c.value)) for c in self._choices(ctx, slot))
        prompt = flow.hook("prompt", slot.name)
        text = await _maybe_await(prompt(ctx)) if prompt else ctx.t(f"{flow.id}.{slot.name}.prompt")
        ctx.add(Text(text, buttons, secret_input=slot.hidden, private=slot.private))

    def _choices(self, ctx: Ctx, slot: Slot) -> tuple[Any, ...]:
        flow = self._flow(ctx.state)
        hook = flow.hook("choices", slot.name) if flow else None
        return tuple(hook(ctx)) if hook else slot.choices

    async def _follow(self, ctx: Ctx) -> bool:
        """Carry out a transition a hook asked for; True when one was taken."""
        move, ctx.transition = ctx.transition, None
        if move is None:
            return False
        if move.kind == "stop":
            self._clear_flows(ctx.state)
            texts.menu(ctx)
        elif move.kind == "restart":
            ctx.state["slots"], ctx.state["asked"] = {}, None
            await self._advance(ctx)
        elif move.kind == "continue":
            await self._advance(ctx)
        else:
            await self._switch(ctx, move)
        return True

    async def _switch(self, ctx: Ctx, move: Transition) -> None:
        assert move.flow is not None
        if move.kind == "call":
            if len(ctx.state.get("stack", [])) >= MAX_DEPTH:
                raise RuntimeError("sub-flows nested too deep")
            self._park(ctx.state)
        await self._start(ctx, move.flow, move.preset or {})

    async def _resume(self, ctx: Ctx) -> bool:
        """Back to the parked flow; True when the caller should go on advancing it."""
        stack = ctx.state.get("stack") or []
        if not stack:
            self._clear_flows(ctx.state)
            return False
        frame = stack.pop()
        slots, ctx.returns = {**frame["slots"], **ctx.returns}, {}
        if frame["asked"] == NOT_STARTED:
            await self._start(ctx, frame["flow"], slots)
            return False
        ctx.state["flow"], ctx.state["asked"], ctx.state["slots"] = frame["flow"], None, slots
        return True

    async def _abandon(self, ctx: Ctx) -> None:
        """Cancel: drop every open flow and whatever it collected (nothing half-done survives)."""
        self._clear_flows(ctx.state)

    async def _reask_or_menu(self, ctx: Ctx) -> None:
        slot = self._asked_slot(ctx.state)
        if slot is not None:
            await self._ask(ctx, slot, fresh=False)
            await self._follow(ctx)
        elif ctx.state.get("flow"):
            await self._advance(ctx)
        else:
            texts.menu(ctx)

    def _previous_slot(self, ctx: Ctx, flow: Form, current: Slot) -> Slot | None:
        names = [s.name for s in flow.slots]
        for slot in reversed(flow.slots[: names.index(current.name)]):
            if slot.name in ctx.slots and slot.kind not in ("flow",):
                return slot
        return None

    # -- state helpers ------------------------------------------------------------------------

    def _flow(self, state: ConversationState) -> Form | None:
        flow_id = state.get("flow")
        return self.flows.get(flow_id) if flow_id else None

    def _asked_slot(self, state: ConversationState) -> Slot | None:
        flow, asked = self._flow(state), state.get("asked")
        if flow is None or asked is None:
            return None
        return next((s for s in flow.slots if s.name == asked), None)

    @staticmethod
    def _park(state: ConversationState) -> None:
        frame: Frame = {"flow": state["flow"] or "", "slots": state.get("slots", {}), "asked": state.get("asked")}
        state.setdefault("stack", []).append(frame)

    @staticmethod
    def _clear_flows(state: ConversationState) -> None:
        state["flow"], state["slots"], state["asked"], state["stack"] = None, {}, None, []


PRIVATE_PLACEHOLDER = "[信用信息 · credit data]"
SECRET_PLACEHOLDER = "[密钥，已隐藏 · secret key, hidden]"


def _transcript_text(reply: Reply) -> str:
    if isinstance(reply, Text) and reply.secret:
        return SECRET_PLACEHOLDER
    if isinstance(reply, Text) and reply.private:
        return PRIVATE_PLACEHOLDER
    if isinstance(reply, Text):
        return mask_numbers(reply.text)
    if isinstance(reply, Image):
        return "[captcha]"
    if isinstance(reply, Document):
        return f"[{reply.filename}]"
    return ""


def _local_recogniser(text: str) -> Intent | None:
    return recognise(text)


async def _maybe_await(value: Any) -> Any:
    return await value if inspect.isawaitable(value) else value


def _state_key(conversation_id: str) -> str:
    return f"conv:{conversation_id}"


def _flow_key(conversation_id: str) -> str:
    return f"flow:{conversation_id}"


FLOW_KEYS = ("flow", "slots", "asked", "stack")


def _as_typed(text: str) -> str:
    """"１", "2.", "Ｙｅｓ" as an input method types them, for comparing with a button's number or label."""
    return clean_text(text).rstrip(".、。)）").strip()


def _remember_buttons(ctx: Ctx) -> None:
    """The buttons of the last message sent, so a number typed next picks one, as in a question."""
    shown = next((reply.buttons for reply in reversed(ctx.replies) if isinstance(reply, Text)), ())
    if shown:
        ctx.state["buttons"] = [button.payload for button in shown]
    elif ctx.replies:
        ctx.state.pop("buttons", None)  # type: ignore[misc]


def _open_slots(state: ConversationState) -> list[dict[str, Any]]:
    """The answers of the open flow and of those parked under it."""
    frames = [state.get("slots") or {}, *((frame.get("slots") or {}) for frame in state.get("stack") or [])]
    return [slots for slots in frames if isinstance(slots, dict)]


def _empty_flow() -> dict[str, Any]:
    return {"flow": None, "slots": {}, "asked": None, "stack": []}


def _lock_key(conversation_id: str) -> str:
    return f"conv:{conversation_id}"
