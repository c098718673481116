"""`gridintake` — one console command with subcommands. JSON on stdout; one-line errors on stderr."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from pathlib import Path

import geo.commands
import nlp.commands
from bot.handlers.telegram import cli as telegram_cli
from bot.handlers.wechat import cli as wechat_cli
from gateway import commands_admin, commands_channels, commands_forwarding
from gateway.cli_output import CommandError, emit
from gateway.cli_output import runtime as _runtime
from settings.config import ConfigError


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    from storage.migrate import upgrade

    runtime = _runtime()
    upgrade(runtime.config.database_url)
    emit({"database": _redact(runtime.config.database_url), "revision": "head"})
    return 0


def cmd_setup(args: argparse.Namespace) -> int:
    """Prepare a fresh machine: migrate the database and check the city data loads."""
    from storage.migrate import upgrade

    runtime = _runtime()
    upgrade(runtime.config.database_url)
    grid = runtime.geo.grid
    emit({
        "database": _redact(runtime.config.database_url),
        "city": runtime.settings.geo.city,
        "grid_cells": len(grid),
        "categories": len(runtime.base_tree),
    })
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from bot.oneshot import file_report

    runtime = _runtime()
    photo = Path(args.photo).read_bytes() if args.photo else None
    case = file_report(
        runtime, text=args.text, lat=args.lat, lon=args.lon, crs=args.crs, photo=photo,
        channel=args.channel, phone=args.phone,
    )
    emit(case)
    return 0


def cmd_case_show(args: argparse.Namespace) -> int:
    from sqlalchemy import select

    from cases.serialize import case_to_json
    from storage.db import transaction
    from storage.models import Case

    runtime = _runtime()
    with transaction(runtime.sessions) as session:
        case = session.scalar(select(Case).where(Case.number == args.number))
        if case is None:
            raise CommandError(f"no case {args.number}")
        emit(case_to_json(case, edition=runtime.settings.categories.edition))
    return 0


def cmd_chat(args: argparse.Namespace) -> int:
    from bot.handlers.console.handler import run

    runtime = _runtime()
    return run(runtime.engine, sys.stdin, sys.stdout, sender=args.sender, prompt=sys.stdin.isatty())


def _service_classifier():
    """The classifier the running service uses: administrators' keyword edits and the active
    model included. Before `gridintake setup` there is no database: the shipped one, said so."""
    from sqlalchemy.exc import SQLAlchemyError

    from nlp import get_classifier

    try:
        return _runtime().classifiers.current()
    except SQLAlchemyError as exc:
        print(f"note: no database ({type(exc).__name__}); the shipped keywords and model only "
              "(run `gridintake setup` for the service's own)", file=sys.stderr)
        return get_classifier()


def cmd_serve(args: argparse.Namespace) -> int:
    from gateway.metrics_dir import use_configured_dir

    use_configured_dir()  # before the app imports prometheus-client
    from bot.rate_limits import memory_limit_warning
    from gateway.server import outbox_worker, serve

    settings = _runtime().settings
    server = settings.server
    host, port = args.host or server.host, args.port or server.port
    workers = server.workers if args.workers is None else args.workers
    threads = server.threads if args.threads is None else args.threads
    kind = f"{workers} gunicorn workers" if workers else "the development server"
    warning = memory_limit_warning(settings.limits, workers)
    with outbox_worker(not args.no_worker) as worker:
        beside = (f", outbox worker pid {worker.pid}" if worker else
                  "; no outbox worker: run `gridintake worker` too")
        print(f"gridintake serving on http://{host}:{port}/ ({kind}{beside})", file=sys.stderr,
              flush=True)
        if warning:
            print(f"gridintake: warning: {warning}", file=sys.stderr, flush=True)
        serve(host, port, workers, threads)
    return 0


def cmd_inbound_retry(args: argparse.Namespace) -> int:
    from datetime import timedelta

    runtime = _runtime()
    if args.id is not None and args.all_failed:
        raise CommandError("give a message id or --all-failed, not both")
    if args.id is not None or args.all_failed:
        outcomes = runtime.engine.retry_failed(None if args.all_failed else [args.id])
        if args.id is not None and not outcomes:
            raise CommandError(f"no failed inbound message {args.id}")
    else:
        outcomes = runtime.engine.retry_pending(timedelta(seconds=args.older_than))
    emit({"retried": len(outcomes), "cases": [o.case_number for o in outcomes if o.case_number]})
    return 0


def cmd_inbound_list(args: argparse.Namespace) -> int:
    from sqlalchemy import func, select

    from storage.db import transaction
    from storage.models import InboundMessage
    from storage.states import InboundStatus

    runtime = _runtime()
    where = []
    if args.failed:
        where.append(InboundMessage.status.in_((InboundStatus.FAILED, InboundStatus.UNPARSEABLE)))
    with transaction(runtime.sessions) as session:
        total = session.scalar(select(func.count(InboundMessage.id)).where(*where))
        rows = session.scalars(select(InboundMessage).where(*where)
                               .order_by(InboundMessage.id.desc()).limit(args.limit))
        emit({"total": total, "rows": [{
            "id": row.id, "channel": row.channel, "key": row.idempotency_key, "sender": row.sender,
            "status": row.status, "attempts": row.attempts, "error": row.error, "text": row.text,
            "received_at": row.received_at.isoformat(),
        } for row in rows]})
    return 0


def _redact(url: str) -> str:
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        return f"{scheme}://{creds.split(':')[0]}@{host}"
    return url


def _add(sub, name: str, func: Callable[[argparse.Namespace], int], help_: str):
    parser = sub.add_parser(name, help=help_, description=help_)
    parser.set_defaults(func=func)
    return parser


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gridintake", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    db = sub.add_parser("db", help="database migrations").add_subparsers(dest="db_command",
                                                                          required=True)
    _add(db, "upgrade", cmd_db_upgrade, "apply all migrations")
    _add(sub, "setup", cmd_setup, "migrate the database and check the city data")

    p = _add(sub, "report", cmd_report, "file a case in one shot and print it as JSON")
    p.add_argument("--text", required=True)
    p.add_argument("--lat", type=float)
    p.add_argument("--lon", type=float)
    p.add_argument("--crs", default="wgs84", choices=["wgs84", "gcj02", "bd09"])
    p.add_argument("--photo")
    p.add_argument("--channel", default="console")
    p.add_argument("--phone")

    case = sub.add_parser("case", help="look at cases").add_subparsers(dest="case_command",
                                                                        required=True)
    p = _add(case, "show", cmd_case_show, "a case with its events as JSON")
    p.add_argument("number")

    p = _add(sub, "chat", cmd_chat, "a resident's conversation on stdin/stdout")
    p.add_argument("--sender", default="local")

    p = _add(sub, "serve", cmd_serve, "run the HTTP gateway")
    p.add_argument("--host")
    p.add_argument("--port", type=int)
    p.add_argument("--workers", type=int, help="gunicorn worker processes; 0: development server")
    p.add_argument("--threads", type=int, help="threads per worker (gthread workers when > 1)")
    p.add_argument("--no-worker", action="store_true",
                   help="do not run the outbox worker beside the gateway (run `gridintake worker` "
                        "as its own process instead)")

    inbound = sub.add_parser("inbound", help="stored inbound messages").add_subparsers(
        dest="inbound_command", required=True)
    p = _add(inbound, "list", cmd_inbound_list, "stored inbound messages, newest first, and a total")
    p.add_argument("--failed", action="store_true",
                   help="only messages that failed or could not be read (unparseable)")
    p.add_argument("--limit", type=int, default=100)
    p = _add(inbound, "retry", cmd_inbound_retry, "process again messages left by a failure")
    p.add_argument("id", type=int, nargs="?", help="one failed message, with fresh attempts")
    p.add_argument("--all-failed", action="store_true",
                   help="every failed message (`inbound list --failed`), with fresh attempts")
    p.add_argument("--older-than", type=float, default=60.0,
                   help="seconds (without ID or --all-failed: received or failed messages this old "
                        "that have attempts left)")

    # Each area's commands, listed here: a command module not listed is not offered.
    nlp.commands.register(sub, _service_classifier)
    geo.commands.register(sub)
    commands_forwarding.register(sub)
    commands_channels.register(sub)
    commands_admin.register(sub)
    telegram_cli.register(sub, _runtime)
    wechat_cli.register(sub, _runtime)
    return parser


# Files and folders gridintake makes (database, photos, inbound media, keys, exports) hold
# residents' data: readable by the service's own user only (0600 files, 0700 folders).
PRIVATE_UMASK = 0o077


def main(argv: list[str] | None = None) -> int:
    os.umask(PRIVATE_UMASK)
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except (CommandError, ConfigError, FileNotFoundError, ValueError) as exc:
        print(f"gridintake: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
