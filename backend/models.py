"""ORM models; personal data columns hold ciphertext (`*_enc`) or keyed hashes (`*_hash`) only."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class Base(DeclarativeBase):
    type_annotation_map = {datetime: DateTime(timezone=True), dict[str, Any]: JSON}


class Account(Base):
    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    login_name: Mapped[str] = mapped_column(String(32))
    login_key: Mapped[str] = mapped_column(String(32), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    name_enc: Mapped[str] = mapped_column(Text)
    id_type: Mapped[str] = mapped_column(String(1))
    identity_hash: Mapped[str] = mapped_column(String(64), unique=True)
    id_number_enc: Mapped[str] = mapped_column(Text)
    phone_enc: Mapped[str] = mapped_column(Text)
    phone_hash: Mapped[str] = mapped_column(String(64), index=True)
    security_level: Mapped[str] = mapped_column(String(8), default="low")
    quick_query: Mapped[bool] = mapped_column(Boolean, default=False)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(nullable=True)
    created_at: Mapped[datetime]
    closed_at: Mapped[datetime | None] = mapped_column(nullable=True)
    totp_secret_enc: Mapped[str | None] = mapped_column(Text, nullable=True)  # authenticator app, sealed
    cards: Mapped[list[VerifiedCard]] = relationship(back_populates="account", lazy="raise",
                                                     order_by="VerifiedCard.id")


class VerifiedCard(Base):
    """A bank card that passed four-element verification for this account."""

    __tablename__ = "verified_cards"
    __table_args__ = (UniqueConstraint("account_id", "card_hash"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    card_hash: Mapped[str] = mapped_column(String(64))
    card_masked: Mapped[str] = mapped_column(String(32))
    verified_at: Mapped[datetime]
    account: Mapped[Account] = relationship(back_populates="cards", lazy="raise")


class QueryRequest(Base):
    """A product request; its due time is the durable promise the dispatcher keeps."""

    __tablename__ = "query_requests"
    __table_args__ = (Index("ix_query_requests_status_due", "status", "due_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    product: Mapped[str] = mapped_column(String(16))
    conversation_id: Mapped[str] = mapped_column(String(128))
    locale: Mapped[str] = mapped_column(String(8), default="zh")
    status: Mapped[str] = mapped_column(String(16), default="pending")
    created_at: Mapped[datetime]
    due_at: Mapped[datetime]
    claimed_until: Mapped[datetime | None] = mapped_column(nullable=True)
    notified_at: Mapped[datetime | None] = mapped_column(nullable=True)
    delivered_at: Mapped[datetime | None] = mapped_column(nullable=True)
    expires_at: Mapped[datetime | None] = mapped_column(nullable=True)
    report_number: Mapped[str] = mapped_column(String(32), unique=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    delivery_note: Mapped[str | None] = mapped_column(String(64), nullable=True)


class OutboxMessage(Base):
    """Messages waiting for a REST conversation to collect them."""

    __tablename__ = "outbox_messages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    conversation_id: Mapped[str] = mapped_column(String(128), index=True)
    body: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]


class StoredFile(Base):
    """A file offered by download link (REST attachments); sealed because reports hold personal data."""

    __tablename__ = "stored_files"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token: Mapped[str] = mapped_column(String(64), unique=True)
    conversation_id: Mapped[str] = mapped_column(String(128))
    filename: Mapped[str] = mapped_column(String(200))
    mime: Mapped[str] = mapped_column(String(64))
    content_enc: Mapped[str] = mapped_column(Text)
    expires_at: Mapped[datetime]


class SmsMessage(Base):
    """The sandbox gateway's record of what each phone received."""

    __tablename__ = "sms_messages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    phone_hash: Mapped[str] = mapped_column(String(64), index=True)
    text_enc: Mapped[str] = mapped_column(Text)
    sent_at: Mapped[datetime]


class SandboxBankCard(Base):
    """Cards added to the sandbox bank at run time (the defaults live in data/fixtures)."""

    __tablename__ = "sandbox_bank_cards"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    card_hash: Mapped[str] = mapped_column(String(64), unique=True)
    record_enc: Mapped[str] = mapped_column(Text)


class AuditEvent(Base):
    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64))
    account_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    detail: Mapped[dict[str, Any]]


class FlowDeadline(Base):
    """When an open dialog flow times out; one row per conversation (B01), claimed by the dispatcher."""

    __tablename__ = "flow_deadlines"

    conversation_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    due_at: Mapped[datetime] = mapped_column(index=True)


class AccountCertificate(Base):
    """A digital certificate bound to an account on first use; found by its fingerprint's keyed hash."""

    __tablename__ = "account_certificates"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    fingerprint_hash: Mapped[str] = mapped_column(String(64), unique=True)
    subject_masked: Mapped[str] = mapped_column(String(200))
    not_after: Mapped[datetime]
    bound_at: Mapped[datetime]


class Agent(Base):
    """A customer-service agent who signs in to the console (`creditbot agent add`)."""

    __tablename__ = "agents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(64))
    password_hash: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime]
    disabled_at: Mapped[datetime | None] = mapped_column(nullable=True)


class Handoff(Base):
    """A conversation handed to the agents: waiting in the queue, with an agent, or ended.

    `context` holds where the person stood (flow, step, language, security level), never answers.
    """

    __tablename__ = "handoffs"
    __table_args__ = (Index("ix_handoffs_status_requested", "status", "requested_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    conversation_id: Mapped[str] = mapped_column(String(128), index=True)
    status: Mapped[str] = mapped_column(String(16), default="waiting")
    context: Mapped[dict[str, Any]]
    requested_at: Mapped[datetime]
    claimed_at: Mapped[datetime | None] = mapped_column(nullable=True)
    ended_at: Mapped[datetime | None] = mapped_column(nullable=True)
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id"), nullable=True, index=True)
    ended_by: Mapped[str | None] = mapped_column(String(16), nullable=True)


class TranscriptEntry(Base):
    """One line of a conversation as an agent may read it: masked before it is written, then sealed.

    author: user, bot, agent, system, or note (an agent's internal note, never sent to the person).
    """

    __tablename__ = "transcript_entries"
    __table_args__ = (Index("ix_transcript_conversation_id", "conversation_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    conversation_id: Mapped[str] = mapped_column(String(128))
    handoff_id: Mapped[int | None] = mapped_column(ForeignKey("handoffs.id", ondelete="SET NULL"), nullable=True)
    author: Mapped[str] = mapped_column(String(8))
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id"), nullable=True)
    text_enc: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime]
