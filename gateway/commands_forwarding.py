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
    """Rows newest first and the total that matched; `--dead` lists every dead letter."""
    from sqlalchemy import func

    from cases.outbox import row_to_json
    from storage.db import transaction
    from storage.models import Outbox

    runtime = _runtime()
    status = OutboxStatus.DEAD if args.dead else args.status
    where = [Outbox.status == status] if status else []
    limit = None if args.dead and args.limit is None else (args.limit or 100)
    with transaction(runtime.sessions) as session:
        total = session.scalar(select(func.count(Outbox.id)).where(*where))
        rows = session.scalars(select(Outbox).where(*where).order_by(Outbox.id.desc()).limit(limit))
        emit({"total": total, "rows": [row_to_json(row) for row in rows]})
    return 0


def _since(value: str):
    """An ISO 8601 time (UTC when no zone is given) or an age such as 90m, 6h, 2d."""
    from datetime import UTC, datetime, timedelta

    from storage.models import utcnow

    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    if value[-1:] in units and value[:-1].isdigit():
        return utcnow() - timedelta(seconds=int(value[:-1]) * units[value[-1]])
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a time or an age (90m, 6h, 2d): {value!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def cmd_outbox_retry(args: argparse.Namespace) -> int:
    from sqlalchemy import update

    from cases.outbox import row_to_json
    from storage.db import transaction
    from storage.models import Outbox, utcnow

    if (args.id is None) == (not args.all_dead):
        raise CommandError("give a row id or --all-dead")
    if args.since is not None and not args.all_dead:
        raise CommandError("--since goes with --all-dead")
    again = {"status": OutboxStatus.PENDING, "attempts": 0, "next_attempt_at": utcnow(),
             "locked_by": None, "locked_until": None}
    runtime = _runtime()
    with transaction(runtime.sessions) as session:
        if args.all_dead:
            where = [Outbox.status == OutboxStatus.DEAD]
            if args.since is not None:
                where.append(Outbox.created_at >= args.since)
            ids = list(session.scalars(update(Outbox).where(*where).values(**again)
                                       .returning(Outbox.id)))
            emit({"retried": len(ids), "ids": sorted(ids)})
            return 0
        row = session.get(Outbox, args.id, with_for_update=True)
        if row is None:
            raise CommandError(f"no outbox row {args.id}")
        if row.status == OutboxStatus.DONE:
            raise CommandError(f"outbox row {args.id} was delivered already")
        for key, value in again.items():
            setattr(row, key, value)
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
    p = outbox.add_parser("list", help="outbox rows as JSON, newest first, with the total")
    p.add_argument("--dead", action="store_true", help="only dead letters, all of them")
    p.add_argument("--status", choices=[s.value for s in OutboxStatus])
    p.add_argument("--limit", type=int, help="at most this many rows (default 100; --dead: all)")
    p.set_defaults(func=cmd_outbox_list)
    p = outbox.add_parser("retry", help="send dead-lettered rows again")
    p.add_argument("id", type=int, nargs="?", help="one row")
    p.add_argument("--all-dead", action="store_true", help="every dead letter")
    p.add_argument("--since", type=_since, metavar="T",
                   help="with --all-dead: only rows written since T (ISO time, or an age: 90m, 6h, 2d)")
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
