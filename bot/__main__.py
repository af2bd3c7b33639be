"""The `creditbot` command: serve, actions, chat, db upgrade, and sandbox helpers."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys

from backend.errors import ConfigurationError
from backend.settings import Settings


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="creditbot", description="Chat front door to the credit-report service")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="HTTP (REST channel, sandbox pages), dispatcher, and Telegram if configured")
    serve.add_argument("--host", help="address to listen on (default: CREDITBOT_HOST or 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port to listen on (default: CREDITBOT_PORT or 8080)")
    actions = sub.add_parser("actions", help="the Rasa action server (rasa-sdk) with creditbot's actions")
    actions.add_argument("--host", default="127.0.0.1", help="address to listen on (default: loopback only)")
    actions.add_argument("--port", type=int, default=None,
                         help="port to listen on (default: CREDITBOT_ACTIONS_PORT or 5055, Rasa's)")
    chat = sub.add_parser("chat", help="chat in this terminal")
    chat.add_argument("--user", help="conversation name (default: $USER)")
    verify = sub.add_parser("verify-report", help="is a report number genuine? (exit 0 yes, 1 no, 2 malformed)")
    verify.add_argument("number", help="the report number printed on the PDF (报告编号)")
    db = sub.add_parser("db", help="database schema")
    db.add_argument("action", choices=["upgrade"])
    agent = sub.add_parser("agent", help="customer-service agents who use the console at /agent")
    agent_sub = agent.add_subparsers(dest="agent_command", required=True)
    add = agent_sub.add_parser("add", help="create an agent account (asks for the password)")
    add.add_argument("--username", required=True)
    add.add_argument("--display-name", help="the name people see on the agent's replies (default: username)")
    add.add_argument("--password-stdin", action="store_true",
                     help="read the password from standard input instead of asking (for scripts)")
    for verb, what in (("disable", "disable an agent: they cannot sign in and their open sessions end"),
                       ("enable", "let a disabled agent sign in again")):
        agent_sub.add_parser(verb, help=what).add_argument("--username", required=True)
    agent_sub.add_parser("list", help="agents and whether they may sign in")
    sandbox = sub.add_parser("sandbox", help="sandbox helpers")
    sandbox_sub = sandbox.add_subparsers(dest="sandbox_command", required=True)
    inbox = sandbox_sub.add_parser("inbox", help="SMS messages a sandbox phone received")
    inbox.add_argument("phone")
    sandbox_sub.add_parser("personas", help="list the sandbox personas and their bank cards")
    cert = sandbox_sub.add_parser("issue-cert", help="a PKCS#12 test certificate signed by the sandbox CA")
    cert.add_argument("--name", required=True)
    cert.add_argument("--id-number", required=True)
    cert.add_argument("--password", required=True)
    cert.add_argument("--out", required=True, help="where to write the .p12 file")
    cert.add_argument("--days", type=int, default=365)
    cert.add_argument("--expired", action="store_true", help="validity period already over")
    cert.add_argument("--other-ca", action="store_true", help="signed by an untrusted CA of the same name")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = Settings.from_env()
    except ConfigurationError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    # The terminal chat shares the screen with the person: only warnings and errors go there.
    level = "WARNING" if args.command == "chat" else settings.log_level
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("httpx", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    return asyncio.run(_run(args, settings))


async def _run(args: argparse.Namespace, settings: Settings) -> int:
    if args.command == "serve":
        from dataclasses import replace

        from bot.server import serve

        await serve(replace(settings, host=args.host or settings.host, port=args.port or settings.port))
    elif args.command == "actions":
        from bot.actions_server import serve_actions

        await serve_actions(settings, host=args.host, port=args.port or settings.actions_port)
    elif args.command == "chat":
        from bot.cli_channel import chat

        await chat(settings, args.user)
    elif args.command == "db":
        from backend.migrate import upgrade_async

        await upgrade_async(settings.database_url)
        print("database is up to date")
    elif args.command == "sandbox":
        return await _sandbox(args, settings)
    elif args.command == "verify-report":
        return await _verify_report(args.number, settings)
    elif args.command == "agent":
        if args.agent_command == "add":
            return await _agent_add(args, settings)
        return await _agent_admin(args, settings)
    return 0


async def _agent_admin(args: argparse.Namespace, settings: Settings) -> int:
    from backend.handoff import BadAgentInput
    from backend.migrate import upgrade_async
    from backend.services import build_services

    await upgrade_async(settings.database_url)
    services = build_services(settings)
    try:
        if args.agent_command == "list":
            for agent, enabled in await services.agents.list():
                print(f"{agent.username}\t{agent.display_name}\t{'enabled' if enabled else 'disabled'}")
            return 0
        agent = await services.agents.set_disabled(args.username, args.agent_command == "disable")
    except BadAgentInput as exc:
        print(f"not changed: {exc}", file=sys.stderr)
        return 2
    finally:
        await services.close()
    print(f"agent {agent.username} {args.agent_command}d")
    return 0


async def _agent_add(args: argparse.Namespace, settings: Settings) -> int:
    import getpass

    from backend.handoff import BadAgentInput
    from backend.migrate import upgrade_async
    from backend.services import build_services

    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = getpass.getpass("password (at least 12 characters): ")
        if getpass.getpass("again: ") != password:
            print("the two passwords differ", file=sys.stderr)
            return 2
    await upgrade_async(settings.database_url)
    services = build_services(settings)
    try:
        agent = await services.agents.add(args.username, args.display_name or args.username, password)
    except BadAgentInput as exc:
        print(f"not added: {exc}", file=sys.stderr)
        return 2
    finally:
        await services.close()
    # This shell's settings need not be the server's (`serve --port`, another CREDITBOT_PORT).
    print(f"agent {agent.username} added; they sign in at /agent on the server's address "
          f"({settings.base_url}/agent with this shell's settings)")
    return 0


async def _verify_report(number: str, settings: Settings) -> int:
    from backend.report_check import (
        REPORT_NUMBER_LENGTH,
        MalformedReportNumber,
        ReportCheck,
    )
    from backend.services import build_services

    services = build_services(settings)
    try:
        found = await ReportCheck(services.db, services.clock).verify(number.strip())
    except MalformedReportNumber:
        print(f"not a report number: a report number is {REPORT_NUMBER_LENGTH} digits", file=sys.stderr)
        return 2
    finally:
        await services.close()
    if not found.found:
        print(f"NOT GENUINE: no report with number {number.strip()} was issued by this service")
        return 1
    issued = found.generated_at.isoformat() if found.generated_at else "-"
    expires = found.expires_at.isoformat() if found.expires_at else "-"
    print(f"GENUINE: report {number.strip()}, product {found.product}, issued {issued}, "
          f"kept until {expires} ({found.status})")
    return 0


async def _sandbox(args: argparse.Namespace, settings: Settings) -> int:
    if args.sandbox_command == "issue-cert":
        from pathlib import Path

        from backend.sandbox_ca import issue_certificate

        p12 = issue_certificate(settings.data_dir / "sandbox_ca", name=args.name, id_number=args.id_number.upper(),
                                password=args.password, days=args.days, expired=args.expired,
                                other_ca=args.other_ca)
        Path(args.out).write_bytes(p12)
        print(f"certificate written to {args.out}")
        return 0
    from backend.identity_rules import Ok, normalize_phone
    from backend.services import build_services

    services = build_services(settings)
    try:
        if args.sandbox_command == "inbox":
            phone = normalize_phone(args.phone)
            if not isinstance(phone, Ok):
                print("not a mainland mobile number", file=sys.stderr)
                return 2
            for message in await services.sms.inbox(phone.value):  # type: ignore[attr-defined]
                print(f"{message.sent_at.isoformat()}  {message.text}")
        elif args.sandbox_command == "personas":
            path = settings.data_dir / "fixtures" / "personas.json"
            cards = json.loads(path.read_text(encoding="utf-8")).get("bank_cards", [])
            for card in cards:
                print(json.dumps(card, ensure_ascii=False))
    finally:
        await services.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
