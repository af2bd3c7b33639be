"""What the action server keeps per Rasa sender in the backend store: the log-in and sealed secrets.

Rasa's tracker (and whatever tracker store a deployment uses) never sees a password, card number or
code: the slot holds a marker (`SEALED`, `VERIFIED`) and the value itself is sealed with the vault
under the sender's key here, for as long as a log-in may stay idle.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from backend.services import Services

SEALED = "sealed"  # the slot's value is sealed in the store, not in the tracker
VERIFIED = "verified"  # the backend accepted the code typed for this slot
CONVERSATION_PREFIX = "rasa:"
SECRET_SLOTS = ("password", "password_confirm", "card", "sms_code", "dynamic_code", "code")
# Notes that live as long as an open flow may (settings.flow_timeout_seconds), each taken once:
JUST_VERIFIED = "just_verified"  # identity verified just now: quick query may be opened without asking again
OPEN_QUICK_QUERY = "open_quick_query"  # quick query is to be opened once the identity is verified


class SenderState:
    def __init__(self, services: Services, sender_id: str) -> None:
        self._services = services
        self.sender_id = sender_id

    @property
    def conversation_id(self) -> str:
        """The conversation id requests made from Rasa carry (so results find their way back)."""
        return CONVERSATION_PREFIX + self.sender_id

    @property
    def _ttl(self) -> int:
        return self._services.settings.login_idle_seconds

    def _key(self, part: str) -> str:
        return f"rasa:{self.sender_id}:{part}"

    async def seal(self, slot: str, value: str) -> None:
        await self._services.kv.set(self._key(f"secret:{slot}"), self._services.vault.seal(value), ttl=self._ttl)

    async def unseal(self, slot: str) -> str | None:
        sealed = await self._services.kv.get(self._key(f"secret:{slot}"))
        return None if sealed is None else self._services.vault.open(str(sealed))

    async def drop(self, *slots: str) -> None:
        for slot in slots:
            await self._services.kv.delete(self._key(f"secret:{slot}"))

    async def count_failure(self, what: str) -> int:
        return await self._services.kv.incr(self._key(f"failures:{what}"), ttl=self._ttl)

    async def clear_failures(self, what: str) -> None:
        await self._services.kv.delete(self._key(f"failures:{what}"))

    async def note(self, what: str) -> None:
        await self._services.kv.set(self._key(f"note:{what}"), True,
                                    ttl=self._services.settings.flow_timeout_seconds)

    async def take_note(self, what: str) -> bool:
        """Whether the note was there; it is gone afterwards (single use)."""
        key = self._key(f"note:{what}")
        found = await self._services.kv.get(key) is not None
        await self._services.kv.delete(key)
        return found

    async def account_id(self) -> int | None:
        """The logged-in account, or None once the log-in was idle too long; each use renews it."""
        value = await self._services.kv.get(self._key("session"))
        if value is None:
            return None
        await self._services.kv.set(self._key("session"), value, ttl=self._ttl)
        return int(value)

    async def bind(self, account_id: int) -> None:
        await self._services.kv.set(self._key("session"), account_id, ttl=self._ttl)

    async def unbind(self) -> None:
        await self._services.kv.delete(self._key("session"))


def code_proof(purpose: str, phone: str) -> str:
    """What a verified code slot holds, sealed: which purpose and phone the code was good for."""
    return f"{VERIFIED}:{purpose}:{phone}"
