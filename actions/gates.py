"""Preconditions a form checks before it asks anything: logged in, logged out, security level high.

The validation action, the form's first question and its submit action all check the same gate. Only
the submit action says why a form cannot go on: the other two just end the form, so the person hears
the reason once (Rasa runs the submit action as soon as a form ends).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from actions.state import SenderState
    from backend.services import Services

Need = Literal["login", "no_login", "level_high"]


@dataclass(frozen=True)
class Refusal:
    response: str
    params: dict[str, Any] = field(default_factory=dict)


async def _login(services: Services, state: SenderState) -> Refusal | None:
    return None if await state.account_id() is not None else Refusal("utter_login_required")


async def _no_login(services: Services, state: SenderState) -> Refusal | None:
    account_id = await state.account_id()
    if account_id is None:
        return None
    account = await services.accounts.get(account_id)
    return Refusal("utter_already_logged_in", {"account_name": account.login_name})


async def _level_high(services: Services, state: SenderState) -> Refusal | None:
    account_id = await state.account_id()
    if account_id is None:
        return Refusal("utter_login_required")
    account = await services.accounts.get(account_id)
    return None if account.security_level == "high" else Refusal("utter_quick_query_needs_high")


_CHECKS: dict[Need, Callable[[Services, SenderState], Awaitable[Refusal | None]]] = {
    "login": _login, "no_login": _no_login, "level_high": _level_high,
}


async def check(services: Services, state: SenderState, needs: tuple[Need, ...]) -> Refusal | None:
    """The first unmet need, or None when the form may go on."""
    for need in needs:
        refusal = await _CHECKS[need](services, state)
        if refusal is not None:
            return refusal
    return None
