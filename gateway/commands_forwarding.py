"""CLI for forwarding: `worker`, `outbox list|retry`, `overdue check`, `open311 poll`, `case unlink`."""

from __future__ import annotations

import argparse
import signal
import threading
from dataclasses import replace

from sqlalchemy import select

from gateway.cli_output import CommandError, emit
from gateway.cli_output import runtime as _runtime
from storage.states import OutboxStatus


def cmd_worker(args: argparse.Namespace) -> int:
    from gateway.metrics_dir import use_configured_dir

    use_configured_dir()  # its delivery latencies reach the gateway's /metrics
    from gateway.forwarding.worker import Worker, WorkerSettings, run_forever

    runtime = _runtime()
    if args.status:
        return _worker_status(runtime)
    settings = WorkerSettings.from_config(runtime.config)
    overrides = {k: v for k, v in (("batch_size", args.batch_size), ("lease_s", args.lease),
                                   ("timeout_s", args.timeout)) if v is not None}
    settings = replace(settings, **overrides)
    worker = Worker(runtime, settings)
    try:
        if args.once:
            emit({"worker": worker.id, **worker.run_once()})
            return 0
        stop = threading.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
        run_forever(runtime, worker, stop, periodic=_periodic_jobs(runtime, args.inbound_retry_after))
        return 0
    finally:
        worker.close()


def _worker_status(runtime) -> int:
    """Every worker's heartbeat as JSON; exit 1 when none beat lately (for a supervisor's check)."""
    from storage import heartbeats
    from storage.db import transaction

    with transaction(runtime.sessions) as session:
        report = heartbeats.status(session)
    emit(report)
    return 0 if report["alive"] else 1


def _periodic_jobs(runtime, inbound_retry_after_s: float = 60.0) -> list:
    from datetime import timedelta

    from cases.overdue import sweep_overdue
    from gateway.forwarding import platform_for

    def overdue() -> None:
        platform = platform_for(runtime)
        sweep_overdue(runtime.sessions, platform, platform.overdue_notice)

    def inbound_retry() -> None:
        """Process again inbound messages a crash or an error left unprocessed."""
        runtime.engine.retry_pending(timedelta(seconds=inbound_retry_after_s))

    jobs = [overdue, inbound_retry]
    if runtime.settings.platform.open311_endpoint:
        jobs.append(lambda: _poll(runtime))
    return jobs


def _poll(runtime) -> dict[str, str]:
    import httpx

    from gateway.forwarding.poll import poll_open311
    from gateway.sinks import open311_client
    from settings.typed import WorkerSettings

    with httpx.Client(timeout=WorkerSettings.from_config(runtime.config).timeout_s) as http:
        return poll_open311(runtime.sessions, open311_client(runtime.settings.platform, http))


def cmd_outbox_list(args: argparse.Namespace) -> int:
    from cases.outbox import row_to_json
    from storage.db import transaction
    from storage.models import Outbox

    runtime = _runtime()
    with transaction(runtime.sessions) as session:
        query = select(Outbox).order_by(Outbox.id.desc()).limit(args.limit)
        if args.dead:
            query = query.where(Outbox.status == OutboxStatus.DEAD)
        elif args.status:
            query = query.where(Outbox.status == args.status)
        emit([row_to_json(row) for row in session.scalars(query)])
    return 0


def cmd_outbox_retry(args: argparse.Namespace) -> int:
    from cases.outbox import row_to_json
    from storage.db import transaction
    from storage.models import Outbox, utcnow

    runtime = _runtime()
    with transaction(runtime.sessions) as session:
        row = session.get(Outbox, args.id, with_for_update=True)
        if row is None:
            raise CommandError(f"no outbox row {args.id}")
        if row.status == OutboxStatus.DONE:
            raise CommandError(f"outbox row {args.id} was delivered already")
        row.status, row.attempts, row.next_attempt_at = OutboxStatus.PENDING, 0, utcnow()
        row.locked_by = row.locked_until = None
        session.flush()
        emit(row_to_json(row))
    return 0


def cmd_overdue_check(args: argparse.Namespace) -> int:
    from cases.overdue import sweep_overdue
    from gateway.forwarding import platform_for

    runtime = _runtime()
    platform = platform_for(runtime)
    numbers = sweep_overdue(runtime.sessions, platform, platform.overdue_notice and not args.no_notice)
    emit({"overdue": numbers})
    return 0


def cmd_open311_poll(args: argparse.Namespace) -> int:
    runtime = _runtime()
    if not runtime.settings.platform.open311_endpoint:
        raise CommandError("no Open311 endpoint: set GRIDINTAKE_OPEN311_ENDPOINT")
    emit({"changed": _poll(runtime)})
    return 0


def cmd_case_unlink(args: argparse.Namespace) -> int:
    from cases.duplicates import unlink
    from cases.serialize import case_to_json
    from storage.db import transaction
    from storage.models import Case

    runtime = _runtime()
    with transaction(runtime.sessions) as session:
        case = session.scalar(select(Case).where(Case.number == args.number).with_for_update())
        if case is None:
            raise CommandError(f"no case {args.number}")
        unlink(session, case, actor=args.actor)
        emit(case_to_json(case))
    return 0


def _subcommands(sub, name: str, help_: str):
    """The group's subparsers, reusing a group another module created (e.g. `case`)."""
    parser = sub.choices.get(name) or sub.add_parser(name, help=help_)
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action
    return parser.add_subparsers(dest=f"{name}_command", required=True)


def register(sub) -> None:
    p = sub.add_parser("worker", help="deliver the outbox (platform sinks and resident messages)")
    p.add_argument("--once", action="store_true", help="deliver what is due, then exit")
    p.add_argument("--status", action="store_true",
                   help="print the workers' heartbeats; exit 1 when no worker beat in the last 30 s")
    p.add_argument("--batch-size", type=int)
    p.add_argument("--lease", type=float, help="seconds a claimed batch stays ours")
    p.add_argument("--timeout", type=float, help="HTTP timeout per delivery, seconds")
    p.add_argument("--inbound-retry-after", type=float, default=60.0, metavar="SECONDS",
                   help="the loop also processes again inbound messages left unprocessed this long "
                        "(as `inbound retry --older-than`); default 60")
    p.set_defaults(func=cmd_worker)

    outbox = _subcommands(sub, "outbox", "deliveries waiting, done and dead-lettered")
    p = outbox.add_parser("list", help="outbox rows as JSON, newest first")
    p.add_argument("--dead", action="store_true", help="only dead letters")
    p.add_argument("--status", choices=[s.value for s in OutboxStatus])
    p.add_argument("--limit", type=int, default=100)
    p.set_defaults(func=cmd_outbox_list)
    p = outbox.add_parser("retry", help="send a dead-lettered row again")
    p.add_argument("id", type=int)
    p.set_defaults(func=cmd_outbox_retry)

    overdue = _subcommands(sub, "overdue", "cases past their handling time limit")
    p = overdue.add_parser("check", help="mark overdue cases (event, optional platform notice)")
    p.add_argument("--no-notice", action="store_true")
    p.set_defaults(func=cmd_overdue_check)

    open311 = _subcommands(sub, "open311", "the Open311 GeoReport v2 sink")
    open311.add_parser("poll", help="bring status changes back").set_defaults(func=cmd_open311_poll)

    case = _subcommands(sub, "case", "look at cases")
    p = case.add_parser("unlink", help="undo a wrong duplicate link")
    p.add_argument("number")
    p.add_argument("--actor", default="admin")
    p.set_defaults(func=cmd_case_unlink)
