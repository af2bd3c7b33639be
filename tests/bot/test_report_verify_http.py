"""Issue 3: GET /reports/verify/<number> (in process, over httpx's ASGI transport) and the
`creditbot verify-report` command (a real process on a database prepared through the services)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from fakes import ENCRYPTION_KEY, P1

from backend.accounts import NewAccount
from backend.clock import FixedClock
from backend.settings import Settings
from bot.web import VERIFY_LIMIT, build_web
from bot.wiring import App

REPO = Path(__file__).resolve().parents[2]
UNKNOWN = "20261203000000000000"


async def delivered_number(app: App, clock: FixedClock, product: str = "report") -> str:
    """A request whose PDF was handed out, made through the services as the dialogs would."""
    services = app.services
    account = await services.accounts.register(NewAccount(P1["name"], "0", P1["id_number"], "wangxm01",
                                                          "Abc12345!", P1["phone"]))
    view = await services.queries.submit(account.id, product, "rest:alice", "zh")  # type: ignore[arg-type]
    clock.advance(services.queries.policy.delay_seconds + 1)
    assert [v.id for v in await services.queries.claim_due()] == [view.id]
    await services.queries.mark_notified(view.id)
    await services.queries.mark_delivered(view.id)
    return view.report_number


def client_for(app: App, ip: str = "203.0.113.7") -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=build_web(app), client=(ip, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://creditbot.test")


async def test_a_real_number_is_valid_and_tells_no_personal_data(app: App, clock: FixedClock) -> None:
    number = await delivered_number(app, clock)
    async with client_for(app) as client:
        response = await client.get(f"/reports/verify/{number}")
    assert response.status_code == 200
    body = response.json()
    assert body["valid"] is True and body["product"] == "report" and body["status"] == "delivered"
    assert body["issued_at"] == clock.now().isoformat()
    assert body["expires_at"] == (await app.services.queries.get(1)).expires_at.isoformat()  # type: ignore[union-attr]
    assert set(body) <= {"valid", "product", "status", "issued_at", "expires_at"}
    for secret in (P1["name"], P1["id_number"], P1["id_number"][-6:], P1["phone"], "wangxm01"):
        assert secret not in response.text


async def test_an_unknown_number_is_404_and_not_valid(app: App, clock: FixedClock) -> None:
    await delivered_number(app, clock)
    async with client_for(app) as client:
        response = await client.get(f"/reports/verify/{UNKNOWN}")
    assert response.status_code == 404 and response.json() == {"valid": False}


async def test_a_request_not_yet_delivered_answers_like_an_unknown_number(app: App, clock: FixedClock) -> None:
    services = app.services
    account = await services.accounts.register(NewAccount(P1["name"], "0", P1["id_number"], "wangxm01",
                                                          "Abc12345!", P1["phone"]))
    view = await services.queries.submit(account.id, "summary", "rest:alice", "zh")
    async with client_for(app) as client:
        response = await client.get(f"/reports/verify/{view.report_number}")
    assert response.status_code == 404 and response.json() == {"valid": False}


@pytest.mark.parametrize("number", ["abc", "2026120300000000000", "202612030000000000000",
                                    "2026120300000000000x", "２０２６１２０３０００００００００００００",
                                    "20261203%2000000000000"])
async def test_malformed_numbers_are_400(app: App, number: str) -> None:
    async with client_for(app) as client:
        response = await client.get(f"/reports/verify/{number}")
    assert response.status_code == 400 and "valid" not in response.json()


async def test_lookups_are_rate_limited_per_client_address(app: App, clock: FixedClock) -> None:
    number = await delivered_number(app, clock)
    async with client_for(app) as client:
        codes = [(await client.get(f"/reports/verify/{UNKNOWN}")).status_code for _ in range(VERIFY_LIMIT)]
        assert codes == [404] * VERIFY_LIMIT
        refused = await client.get(f"/reports/verify/{number}")  # even a real number, once over the limit
        assert refused.status_code == 429 and "Retry-After" in refused.headers
        assert (await client.get("/reports/verify/abc")).status_code == 429
    async with client_for(app, ip="198.51.100.9") as other:
        assert (await other.get(f"/reports/verify/{number}")).status_code == 200


# -- the command ------------------------------------------------------------------------------------

def run_cli(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CREDITBOT_ENV": "sandbox", "CREDITBOT_VAR_DIR": str(settings.var_dir),
           "CREDITBOT_ENCRYPTION_KEY": ENCRYPTION_KEY, "CREDITBOT_LOG_LEVEL": "WARNING", "DATABASE_URL": settings.database_url}
    return subprocess.run([sys.executable, "-m", "bot", "verify-report", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=60, check=False)


async def test_verify_report_command(app: App, clock: FixedClock, settings: Settings) -> None:
    number = await delivered_number(app, clock, product="summary")
    genuine = run_cli(settings, number)
    assert genuine.returncode == 0, genuine.stderr
    assert genuine.stdout.startswith("GENUINE") and number in genuine.stdout and "summary" in genuine.stdout
    for secret in (P1["name"], P1["id_number"], P1["phone"]):
        assert secret not in genuine.stdout + genuine.stderr
    unknown = run_cli(settings, UNKNOWN)
    assert unknown.returncode == 1 and unknown.stdout.startswith("NOT GENUINE"), unknown.stderr
    malformed = run_cli(settings, "12345")
    assert malformed.returncode == 2 and "not a report number" in malformed.stderr

