"""Customer-service agents, their sessions, the queue of conversations handed to them, transcripts.

A conversation asks for a person: a `Handoff` row is written with where the person stood (flow,
step, language, security level — never an answer) and waits in the queue. One agent claims it
(a single conditional UPDATE, so two agents clicking at once cannot both win), reads the masked
transcript, replies, writes notes, and hands it back to the bot or closes it. A waiting handoff
that nobody claims within `handoff_wait_seconds` times out. Every agent action is audited.

Transcript lines are masked by the dialog layer before they arrive here and sealed at rest, so
neither the console nor its API can show more than the mask left.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select, update

from backend.audit import Audit
from backend.bus import Bus
from backend.clock import Clock, as_utc
from backend.crypto import Passwords, Vault
from backend.db import Database
from backend.errors import BackendError
from backend.kv import KeyValueStore
from backend.models import Agent, Handoff, TranscriptEntry

AGENTS_TOPIC = "agents"  # the bus topic every console listens on
OPEN = ("waiting", "active")
TRANSCRIPT_LIMIT = 300
NOTE_LIMIT = 2000
REPLY_LIMIT = 2000
USERNAME_LIMIT = 64
SESSION_PREFIX = "agent_session:"
FAILURES_PREFIX = "agent_failures:"
MAX_FAILURES = 10  # wrong passwords for one username within FAILURE_WINDOW, from any address
FAILURE_WINDOW = 900


class HandoffError(BackendError):
    """Base of what an agent's action can run into; `reason` is a stable, data-free code."""

    reason = "handoff_error"


class NotFound(HandoffError):
    reason = "not_found"


class AlreadyClaimed(HandoffError):
    reason = "already_claimed"


class NotYours(HandoffError):
    reason = "not_yours"


class NotOpen(HandoffError):
    reason = "not_open"


class BadAgentInput(HandoffError):
    reason = "bad_input"


@dataclass(frozen=True)
class AgentView:
    id: int
    username: str
    display_name: str


@dataclass(frozen=True)
class HandoffView:
    id: int
    conversation_id: str
    channel: str
    status: str
    context: dict[str, Any]
    requested_at: datetime
    claimed_at: datetime | None
    ended_at: datetime | None
    agent_id: int | None
    ended_by: str | None

    def public(self, now: datetime, agents: dict[int, str] | None = None) -> dict[str, Any]:
        """What the console shows: no conversation id (it may carry a chat or phone reference)."""
        waited_until = self.claimed_at or self.ended_at or now
        return {"id": self.id, "channel": self.channel, "status": self.status,
                "lang": self.context.get("lang"), "flow": self.context.get("flow"),
                "step": self.context.get("step"), "level": self.context.get("level"),
                "logged_in": bool(self.context.get("logged_in")),
                "requested_at": self.requested_at.isoformat(),
                "waiting_seconds": int((as_utc(waited_until) - as_utc(self.requested_at)).total_seconds()),
                "agent": (agents or {}).get(self.agent_id or 0), "agent_id": self.agent_id,
                "ended_by": self.ended_by}


@dataclass(frozen=True)
class Line:
    id: int
    author: str
    text: str
    at: datetime
    agent: str | None = None

    def public(self) -> dict[str, Any]:
        return {"id": self.id, "author": self.author, "text": self.text, "at": self.at.isoformat(),
                "agent": self.agent}


def _view(row: Handoff) -> HandoffView:
    return HandoffView(row.id, row.conversation_id, row.conversation_id.split(":", 1)[0], row.status,
                       dict(row.context or {}), as_utc(row.requested_at),
                       as_utc(row.claimed_at) if row.claimed_at else None,
                       as_utc(row.ended_at) if row.ended_at else None, row.agent_id, row.ended_by)


class AgentDirectory:
    """Agent accounts (argon2 passwords) and their console sessions (random tokens, kept hashed)."""

    def __init__(self, db: Database, kv: KeyValueStore, clock: Clock, audit: Audit, passwords: Passwords,
                 session_seconds: int, idle_seconds: int) -> None:
        self._db, self._kv, self._clock, self._audit = db, kv, clock, audit
        self._passwords = passwords
        self._session_seconds, self._idle_seconds = session_seconds, idle_seconds

    async def add(self, username: str, display_name: str, password: str) -> AgentView:
        username = username.strip()
        if not username or len(username) > USERNAME_LIMIT or not username.isprintable() or " " in username:
            raise BadAgentInput("username: 1-64 printable characters without spaces")
        if len(password) < 12:
            raise BadAgentInput("password: at least 12 characters")
        display_name = (display_name or username).strip()[:64]
        async with self._db.transaction() as session:
            if await session.scalar(select(Agent.id).where(Agent.username == username)) is not None:
                raise BadAgentInput("an agent with this username exists")
            row = Agent(username=username, display_name=display_name, password_hash=self._passwords.hash(password),
                        created_at=self._clock.now())
            session.add(row)
            await session.flush()
            await self._audit.record(session, f"agent:{row.id}", "agent.created", None)
        return AgentView(row.id, row.username, row.display_name)

    async def sign_in(self, username: str, password: str, client: str = "") -> tuple[str, AgentView] | None:
        """A new session token, or None: a wrong name, a wrong password, a disabled account and one
        locked after too many wrong passwords (per username, whatever the address) look the same."""
        username = username.strip()
        failures_key = FAILURES_PREFIX + hashlib.sha256(username.lower().encode()).hexdigest()
        # Counted before the check, atomically: parallel guesses each take a place, so no more than
        # MAX_FAILURES are ever checked in a window; a right password clears the count.
        locked = await self._kv.incr(failures_key, ttl=FAILURE_WINDOW) > MAX_FAILURES
        async with self._db.transaction() as session:
            row = await session.scalar(select(Agent).where(Agent.username == username))
            hashed = row.password_hash if row is not None else _DUMMY_HASH  # same work for unknown names
            right = self._passwords.verify(hashed, password)
            ok = row is not None and row.disabled_at is None and right and not locked
            actor = f"agent:{row.id}" if row is not None else "agent:unknown"
            action = "agent.sign_in" if ok else "agent.sign_in_locked" if locked else "agent.sign_in_failed"
            await self._audit.record(session, actor, action, None, client=client[:64])
        if not ok or row is None:
            return None
        await self._kv.delete(failures_key)
        token = secrets.token_urlsafe(32)
        now = self._clock.now().timestamp()
        record = {"agent_id": row.id, "username": row.username, "display_name": row.display_name,
                  "expires_at": now + self._session_seconds}
        await self._kv.set(SESSION_PREFIX + _token_hash(token), record, ttl=self._idle_seconds)
        return token, AgentView(row.id, row.username, row.display_name)

    async def session(self, token: str | None) -> AgentView | None:
        """The signed-in agent; each use extends the idle limit, never past the absolute one."""
        if not token or len(token) > 100:
            return None
        key = SESSION_PREFIX + _token_hash(token)
        record = await self._kv.get(key)
        if not isinstance(record, dict):
            return None
        left = record["expires_at"] - self._clock.now().timestamp()
        if left <= 0:
            await self._kv.delete(key)
            return None
        async with self._db.sessions() as session:
            disabled = await session.scalar(select(Agent.disabled_at).where(Agent.id == record["agent_id"]))
        if disabled is not None:  # disabled since signing in: every session ends at its next use
            await self._kv.delete(key)
            return None
        await self._kv.set(key, record, ttl=min(self._idle_seconds, left))
        return AgentView(record["agent_id"], record["username"], record["display_name"])

    async def set_disabled(self, username: str, disabled: bool) -> AgentView:
        """Disables an agent (their open sessions end at once) or enables them again; audited."""
        async with self._db.transaction() as session:
            row = await session.scalar(select(Agent).where(Agent.username == username.strip()))
            if row is None:
                raise BadAgentInput("no agent with this username")
            row.disabled_at = self._clock.now() if disabled else None
            await self._audit.record(session, "admin", "agent.disabled" if disabled else "agent.enabled", None,
                                     agent=row.id)
        return AgentView(row.id, row.username, row.display_name)

    async def list(self) -> list[tuple[AgentView, bool]]:
        """Every agent with whether they are enabled."""
        async with self._db.sessions() as session:
            rows = (await session.scalars(select(Agent).order_by(Agent.id))).all()
        return [(AgentView(r.id, r.username, r.display_name), r.disabled_at is None) for r in rows]

    async def sign_out(self, token: str | None, agent: AgentView | None) -> None:
        if token:
            await self._kv.delete(SESSION_PREFIX + _token_hash(token))
        if agent is not None:
            async with self._db.transaction() as session:
                await self._audit.record(session, f"agent:{agent.id}", "agent.sign_out", None)

    async def names(self) -> dict[int, str]:
        async with self._db.sessions() as session:
            return {r.id: r.display_name for r in (await session.scalars(select(Agent))).all()}


_DUMMY_HASH = Passwords().hash(secrets.token_hex(16))


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class HandoffDesk:
    def __init__(self, db: Database, vault: Vault, clock: Clock, audit: Audit, bus: Bus,
                 wait_seconds: int, retention_seconds: int) -> None:
        self._db, self._vault, self._clock, self._audit, self._bus = db, vault, clock, audit, bus
        self.wait_seconds, self._retention = wait_seconds, retention_seconds

    # -- the person's side --------------------------------------------------------------------

    async def request(self, conversation_id: str, context: dict[str, Any]) -> tuple[HandoffView, int]:
        """Queues the conversation (or returns its open handoff) and its place in the queue."""
        async with self._db.transaction() as session:
            row = await session.scalar(select(Handoff).where(Handoff.conversation_id == conversation_id,
                                                             Handoff.status.in_(OPEN)))
            created = row is None
            if row is None:
                row = Handoff(conversation_id=conversation_id, status="waiting", context=context,
                              requested_at=self._clock.now())
                session.add(row)
                await session.flush()
                await self._audit.record(session, "person", "handoff.requested", None, handoff=row.id,
                                         channel=conversation_id.split(":", 1)[0])
            view = _view(row)
        if created:
            await self._notify("queue", view.id)
        return view, await self.position(view)

    async def position(self, view: HandoffView) -> int:
        """1 = next to be served; 0 = an agent has it already."""
        if view.status != "waiting":
            return 0
        async with self._db.sessions() as session:
            ahead = await session.scalar(select(func.count(Handoff.id)).where(
                Handoff.status == "waiting", Handoff.id < view.id))
        return int(ahead or 0) + 1

    async def open_for(self, conversation_id: str) -> HandoffView | None:
        async with self._db.sessions() as session:
            row = await session.scalar(select(Handoff).where(Handoff.conversation_id == conversation_id,
                                                             Handoff.status.in_(OPEN)))
        return _view(row) if row else None

    async def last_for(self, conversation_id: str) -> HandoffView | None:
        """The conversation's latest handoff, open or ended (how it ended tells what to say)."""
        async with self._db.sessions() as session:
            row = await session.scalar(select(Handoff).where(Handoff.conversation_id == conversation_id)
                                       .order_by(Handoff.id.desc()).limit(1))
        return _view(row) if row else None

    async def leave(self, conversation_id: str) -> HandoffView | None:
        """The person goes back to the bot themselves."""
        return await self._end_open(conversation_id, "returned", "person")

    async def record(self, conversation_id: str, lines: list[tuple[str, str]],
                     handoff_id: int | None = None, agent_id: int | None = None) -> list[Line]:
        """Appends (author, masked text) lines; the caller has masked them already."""
        if not lines:
            return []
        now = self._clock.now()
        rows = [TranscriptEntry(conversation_id=conversation_id, handoff_id=handoff_id, author=author,
                                agent_id=agent_id, text_enc=self._vault.seal(text), at=now)
                for author, text in lines]
        async with self._db.transaction() as session:
            session.add_all(rows)
            await session.flush()
        out = [Line(r.id, r.author, text, as_utc(now)) for r, (_, text) in zip(rows, lines, strict=True)]
        if handoff_id is not None:
            await self._notify("entry", handoff_id)
        return out

    # -- the agents' side ---------------------------------------------------------------------

    async def queue(self) -> list[HandoffView]:
        """Open handoffs, the waiting ones first in order of arrival, then those agents have."""
        async with self._db.sessions() as session:
            rows = (await session.scalars(select(Handoff).where(Handoff.status.in_(OPEN))
                                          .order_by(Handoff.id))).all()
        views = [_view(r) for r in rows]
        return [v for v in views if v.status == "waiting"] + [v for v in views if v.status == "active"]

    async def get(self, handoff_id: int, agent: AgentView, action: str = "handoff.viewed") -> HandoffView:
        """One handoff an agent may look at, audited: a waiting one, or one they hold or held.

        An ended handoff that no agent held (the person went back, the wait ran out) is nobody's to
        read; one an agent held stays readable to that agent only, and only up to its end (see
        `transcript`), so an old handoff id never opens the conversation's later life.
        """
        view = await self._find(handoff_id)
        if view.status != "waiting" and view.agent_id != agent.id:
            raise NotYours(handoff_id) if view.agent_id is not None else NotOpen(handoff_id)
        async with self._db.transaction() as session:
            await self._audit.record(session, f"agent:{agent.id}", action, None, handoff=handoff_id)
        return view

    async def transcript(self, view: HandoffView) -> list[Line]:
        names = await self._agent_names()
        query = select(TranscriptEntry).where(TranscriptEntry.conversation_id == view.conversation_id)
        if view.ended_at is not None:
            query = query.where(TranscriptEntry.at <= view.ended_at)
        query = query.order_by(TranscriptEntry.id.desc()).limit(TRANSCRIPT_LIMIT)
        async with self._db.sessions() as session:
            rows = list(reversed((await session.scalars(query)).all()))
        # Notes belong to their own handoff; earlier handoffs' notes stay with them.
        return [Line(r.id, r.author, self._vault.open(r.text_enc), as_utc(r.at), names.get(r.agent_id or 0))
                for r in rows if r.author != "note" or r.handoff_id == view.id]

    async def claim(self, handoff_id: int, agent: AgentView) -> HandoffView:
        now = self._clock.now()
        claim = (update(Handoff).where(Handoff.id == handoff_id, Handoff.status == "waiting")
                 .values(status="active", agent_id=agent.id, claimed_at=now)
                 .returning(Handoff).execution_options(synchronize_session=False))
        async with self._db.transaction() as session:
            row = await session.scalar(claim)
            if row is not None:
                await self._audit.record(session, f"agent:{agent.id}", "handoff.claimed", None, handoff=handoff_id)
        if row is None:
            view = await self._find(handoff_id)
            raise AlreadyClaimed(handoff_id) if view.status == "active" else NotOpen(handoff_id)
        await self._notify("queue", handoff_id)
        return _view(row)

    async def held(self, handoff_id: int, agent: AgentView) -> HandoffView:
        view = await self._find(handoff_id)
        if view.status != "active":
            raise NotOpen(handoff_id)
        if view.agent_id != agent.id:
            raise NotYours(handoff_id)
        return view

    async def reply(self, handoff_id: int, agent: AgentView, text: str) -> tuple[HandoffView, Line]:
        text = _clean(text, REPLY_LIMIT)
        view = await self.held(handoff_id, agent)
        line = await self._write(view, agent, "agent", text, "handoff.replied")
        return view, line

    async def note(self, handoff_id: int, agent: AgentView, text: str) -> Line:
        text = _clean(text, NOTE_LIMIT)
        view = await self.held(handoff_id, agent)
        return await self._write(view, agent, "note", text, "handoff.noted")

    async def finish(self, handoff_id: int, agent: AgentView, how: str) -> HandoffView:
        """how: "returned" (back to the bot) or "closed"."""
        view = await self.held(handoff_id, agent)
        ended = await self._end(view.id, how, f"agent:{agent.id}")
        if ended is None:
            raise NotOpen(handoff_id)
        return ended

    async def time_out_waiting(self, only: tuple[str, ...] = (), skip: tuple[str, ...] = ()) -> list[HandoffView]:
        """Waiting handoffs nobody claimed in time, now ended; their people are told by the caller.
        `only`/`skip`: channels this process serves (as for the dispatcher)."""
        cutoff = self._clock.now() - timedelta(seconds=self.wait_seconds)
        async with self._db.sessions() as session:
            rows = (await session.execute(select(Handoff.id, Handoff.conversation_id).where(
                Handoff.status == "waiting", Handoff.requested_at <= cutoff))).all()
        mine = [i for i, cid in rows
                if (not only or cid.split(":", 1)[0] in only) and cid.split(":", 1)[0] not in skip]
        return [view for i in mine if (view := await self._end(i, "timed_out", "system", only="waiting"))]

    async def purge(self) -> int:
        cutoff = self._clock.now() - timedelta(seconds=self._retention)
        async with self._db.transaction() as session:
            result = await session.execute(delete(TranscriptEntry).where(TranscriptEntry.at < cutoff))
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    # -- helpers ------------------------------------------------------------------------------

    async def _write(self, view: HandoffView, agent: AgentView, author: str, text: str, action: str) -> Line:
        now = self._clock.now()
        row = TranscriptEntry(conversation_id=view.conversation_id, handoff_id=view.id, author=author,
                              agent_id=agent.id, text_enc=self._vault.seal(text), at=now)
        async with self._db.transaction() as session:
            session.add(row)
            await session.flush()
            await self._audit.record(session, f"agent:{agent.id}", action, None, handoff=view.id)
        await self._notify("entry", view.id)
        return Line(row.id, author, text, as_utc(now), agent.display_name)

    async def _end_open(self, conversation_id: str, status: str, by: str) -> HandoffView | None:
        view = await self.open_for(conversation_id)
        return await self._end(view.id, status, by) if view else None

    async def _end(self, handoff_id: int, status: str, by: str, only: str | None = None) -> HandoffView | None:
        states = (only,) if only else OPEN
        end = (update(Handoff).where(Handoff.id == handoff_id, Handoff.status.in_(states))
               .values(status=status, ended_at=self._clock.now(), ended_by=by.split(":", 1)[0])
               .returning(Handoff).execution_options(synchronize_session=False))
        async with self._db.transaction() as session:
            row = await session.scalar(end)
            if row is not None:
                await self._audit.record(session, by, f"handoff.{status}", None, handoff=handoff_id)
        if row is None:
            return None
        await self._notify("status", handoff_id)
        return _view(row)

    async def _find(self, handoff_id: int) -> HandoffView:
        async with self._db.sessions() as session:
            row = await session.get(Handoff, handoff_id)
        if row is None:
            raise NotFound(handoff_id)
        return _view(row)

    async def _agent_names(self) -> dict[int, str]:
        async with self._db.sessions() as session:
            return {r.id: r.display_name for r in (await session.scalars(select(Agent))).all()}

    async def _notify(self, kind: str, handoff_id: int) -> None:
        await self._bus.publish(AGENTS_TOPIC, {"type": kind, "handoff": handoff_id})


def _clean(text: str, limit: int) -> str:
    if not isinstance(text, str):
        raise BadAgentInput("text must be a string")
    text = text.strip()
    if not text or len(text) > limit:
        raise BadAgentInput(f"text must be 1 to {limit} characters")
    return text
