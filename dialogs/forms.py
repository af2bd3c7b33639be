"""The Form base: slots asked in order, per-slot hooks found by name (validate_/ask_/skip_/choices_)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from dialogs.context import Ctx

SlotKind = Literal["text", "choice", "secret", "captcha", "code", "file", "flow"]


@dataclass(frozen=True)
class Choice:
    value: str
    label_key: str


@dataclass(frozen=True)
class Slot:
    """One question. `secret` slots are sealed in state and their chat messages deleted once read."""

    name: str
    kind: SlotKind = "text"
    choices: tuple[Choice, ...] = ()
    secret: bool = False
    private: bool = False
    """Asked from the person's own credit data: neither question nor answer reaches an agent."""

    @property
    def hidden(self) -> bool:
        return self.secret or self.kind in ("secret", "code")


@dataclass(frozen=True)
class Valid:
    value: Any


@dataclass(frozen=True)
class Invalid:
    reason: str
    params: dict[str, Any] = field(default_factory=dict)
    reask: bool = True


Validation = Valid | Invalid


class Form:
    """Subclass, set the class attributes, and write hooks named after slots (rasa-sdk style)."""

    id: str = ""
    triggers: tuple[str, ...] = ()
    slots: tuple[Slot, ...] = ()
    requires_login: bool = False

    def slot(self, name: str) -> Slot:
        return next(s for s in self.slots if s.name == name)

    def hook(self, prefix: str, slot: str) -> Any:
        return getattr(self, f"{prefix}_{slot}", None)

    async def on_start(self, ctx: Ctx) -> None:
        """Runs once when the flow starts; may say something or stop the flow."""

    async def on_complete(self, ctx: Ctx) -> None:
        raise NotImplementedError


def choice_payload(slot: str, value: str) -> str:
    return f"/{slot}:{value}"
