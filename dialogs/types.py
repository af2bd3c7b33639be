"""Plain data that crosses the channel boundary: Turn in, Reply out; no channel types inside."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, TypedDict

TurnKind = Literal["text", "button", "file", "photo", "sticker", "other"]


@dataclass(frozen=True)
class Attachment:
    name: str
    mime: str
    data: bytes = field(repr=False)


@dataclass(frozen=True)
class Turn:
    channel: str
    conversation_id: str
    text: str | None = None
    kind: TurnKind = "text"
    attachment: Attachment | None = None
    message_ref: str | None = None
    locale: str | None = None
    user_ref: str | None = None
    display_name: str | None = None
    received_at: datetime | None = None

    def __post_init__(self) -> None:
        # JSON may carry lone surrogates ("\ud800"), which no encoder accepts: a surrogate pair
        # split in two is joined again, a lone half becomes U+FFFD, before anything reads the text.
        for name in ("text", "display_name"):
            value = getattr(self, name)
            if isinstance(value, str) and any("\ud800" <= ch <= "\udfff" for ch in value):
                fixed = value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
                object.__setattr__(self, name, fixed)


@dataclass(frozen=True)
class Button:
    title: str
    payload: str


@dataclass(frozen=True)
class Text:
    text: str
    buttons: tuple[Button, ...] = ()
    secret_input: bool = False
    """The answer expected next is secret: widgets mask what is typed."""
    agent: str = ""
    """Written by a customer-service agent (their display name), not by the bot."""
    private: bool = False
    """Carries the person's credit data (a result, a question built from it): never copied into
    the agents' transcript."""
    secret: bool = False
    """Carries a secret meant for the person alone (an authenticator's setup key): never copied into
    the agents' transcript either, and shown there as a hidden secret, not as credit data."""


@dataclass(frozen=True)
class Image:
    png: bytes = field(repr=False)
    caption: str = ""


@dataclass(frozen=True)
class Document:
    data: bytes = field(repr=False)
    filename: str
    caption: str = ""
    mime: str = "application/pdf"


@dataclass(frozen=True)
class Delete:
    message_ref: str


@dataclass(frozen=True)
class Typing:
    kind: Literal["typing", "upload_document", "upload_photo"] = "typing"


Reply = Text | Image | Document | Delete | Typing
UNRECORDED = "unrecorded"  # a state key set by a turn that erased the transcript (account closure): it adds nothing back


class Frame(TypedDict):
    flow: str
    slots: dict[str, Any]
    asked: str | None


class ConversationState(TypedDict, total=False):
    lang: str
    account_id: int | None
    level: str  # the logged-in account's security level when last read
    buttons: list[str]  # payloads of the last message's buttons: a typed number picks one
    last_active: float
    flow: str | None
    slots: dict[str, Any]
    asked: str | None
    stack: list[Frame]
