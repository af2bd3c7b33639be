"""Four-element bank-card verification (card, name, ID, reserved phone) behind a provider seam."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Literal, Protocol

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from backend.crypto import Vault
from backend.db import Database
from backend.identity_rules import ID_TYPES
from backend.models import SandboxBankCard

Outcome = Literal["ok", "unknown_card", "mismatch"]


@dataclass(frozen=True)
class CardHolder:
    card: str
    name: str
    id_type: str
    id_number: str
    phone: str


@dataclass(frozen=True)
class CardCheck:
    outcome: Outcome

    @property
    def ok(self) -> bool:
        return self.outcome == "ok"


class BankCardVerifier(Protocol):
    async def verify(self, claim: CardHolder) -> CardCheck: ...


def compare(claim: CardHolder, record: CardHolder | None) -> CardCheck:
    if record is None:
        return CardCheck("unknown_card")
    return CardCheck("ok" if claim == record else "mismatch")


class SandboxBank:
    """Default cards from data/fixtures/bank_cards.json, plus cards added at run time (sealed in the DB)."""

    def __init__(self, db: Database, vault: Vault, fixture: Path) -> None:
        self._db, self._vault = db, vault
        self._defaults = {c.card: c for c in load_fixture(fixture)}

    async def verify(self, claim: CardHolder) -> CardCheck:
        return compare(claim, await self._find(claim.card))

    async def add(self, holder: CardHolder) -> bool:
        """Returns False when the card already exists (the first record wins, a fixture's above all)."""
        if holder.card in self._defaults:
            return False
        row = SandboxBankCard(card_hash=self._vault.lookup_hash("card", holder.card),
                              record_enc=self._vault.seal(json.dumps(asdict(holder), ensure_ascii=False)))
        try:
            async with self._db.transaction() as session:
                session.add(row)
        except IntegrityError:
            return False
        return True

    async def _find(self, card: str) -> CardHolder | None:
        if card in self._defaults:
            return self._defaults[card]
        query = select(SandboxBankCard.record_enc).where(
            SandboxBankCard.card_hash == self._vault.lookup_hash("card", card))
        async with self._db.sessions() as session:
            sealed = await session.scalar(query)
        return None if sealed is None else CardHolder(**json.loads(self._vault.open(sealed)))


def load_fixture(path: Path) -> list[CardHolder]:
    """Reads the "bank_cards" list of the sandbox personas file (see backend/credit_data.py)."""
    if not path.exists():
        return []
    raw = json.loads(path.read_text(encoding="utf-8"))
    items = raw.get("bank_cards", []) if isinstance(raw, dict) else raw
    codes = {key: code for code, key in ID_TYPES}
    holders = [CardHolder(**{k: str(item[k]) for k in CardHolder.__annotations__}) for item in items]
    return [replace(h, id_type=codes.get(h.id_type, h.id_type)) for h in holders]
