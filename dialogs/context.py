"""What a flow sees during one turn: the input, its slots, services, the translator and its replies."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from backend.accounts import AccountView
from dialogs.catalog import Translator
from dialogs.types import Button, ConversationState, Reply, Text, Turn

if TYPE_CHECKING:
    from backend.services import Services

# Secret slot values are kept as {"$sealed": <ciphertext>}: a tag no typed answer can imitate
# (a "sealed:" prefix could be typed by anyone and then fail to open).
SEALED = "$sealed"


@dataclass
class Transition:
    kind: str  # "call" (sub-flow, then come back), "start" (replace), "restart", "stop"
    flow: str | None = None
    preset: dict[str, Any] | None = None


class Ctx:
    def __init__(self, turn: Turn, state: ConversationState, services: Services) -> None:
        self.turn = turn
        self.state = state
        self.services = services
        self.t = Translator(state.get("lang", "zh"))
        self.replies: list[Reply] = []
        self.transition: Transition | None = None
        self.returns: dict[str, Any] = {}
        self._account: AccountView | None = None
        self.user_recorded = False  # the person's message is in the transcript already (left an agent)

    @property
    def lang(self) -> str:
        return self.t.lang

    @property
    def conversation_id(self) -> str:
        return self.turn.conversation_id

    @property
    def now(self) -> datetime:
        return self.services.clock.now()

    @property
    def account_id(self) -> int | None:
        return self.state.get("account_id")

    async def account(self) -> AccountView:
        if self._account is None or self._account.id != self.account_id:
            if self.account_id is None:
                raise LookupError("no account bound to this conversation")
            self._account = await self.services.accounts.get(self.account_id)
            self.state["level"] = self._account.security_level  # for the menu, which cannot wait on it
        return self._account

    def forget_account(self) -> None:
        self._account = None

    def say(self, key: str, *, buttons: tuple[Button, ...] = (), secret_input: bool = False, **params: Any) -> None:
        self.replies.append(Text(self.t(key, **params), buttons, secret_input))

    def add(self, reply: Reply) -> None:
        self.replies.append(reply)

    def button(self, key: str, payload: str, **params: Any) -> Button:
        return Button(self.t(key, **params), payload)

    @property
    def slots(self) -> dict[str, Any]:
        return self.state.setdefault("slots", {})

    def get(self, name: str, default: Any = None) -> Any:
        value = self.slots.get(name, default)
        if isinstance(value, dict) and set(value) == {SEALED}:
            return self.services.vault.open(value[SEALED])
        return value

    def put(self, name: str, value: Any, *, secret: bool = False) -> None:
        """Secret values are sealed with the vault: stored state never holds them in clear."""
        if secret and isinstance(value, str):
            value = {SEALED: self.services.vault.seal(value)}
        self.slots[name] = value

    def clear(self, *names: str) -> None:
        for name in names:
            self.slots.pop(name, None)

    def call(self, flow: str, **preset: Any) -> None:
        self.transition = Transition("call", flow, preset)

    def start(self, flow: str, **preset: Any) -> None:
        self.transition = Transition("start", flow, preset)

    def restart(self) -> None:
        self.transition = Transition("restart")

    def again(self) -> None:
        """Stay in this flow and ask whatever slot is now empty (after clearing some)."""
        self.transition = Transition("continue")

    def stop(self) -> None:
        """End this flow and every flow waiting under it."""
        self.transition = Transition("stop")
