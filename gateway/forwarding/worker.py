"""Deliver due outbox rows: claim a batch, send each, record the outcome.

Claiming: a batch of due rows is leased to this worker (`locked_by`, `locked_until`); on
PostgreSQL the candidate rows are selected `FOR UPDATE SKIP LOCKED`, so parallel workers take
disjoint batches, and the conditional UPDATE re-checks the lease so the same holds on SQLite.
A worker that dies mid-delivery leaves its lease to expire; platform rows are then delivered
again with the same idempotency key (the receiver recognises it). Resident messages cannot be
recognised by a phone, so a resident row whose send was in flight is dead-lettered as
"in doubt" rather than sent twice (`outbox retry` sends it after a check).

`run_forever` survives faults (a database restart, refused connections): it logs one line, backs
off and carries on, and beats a heartbeat (`storage.heartbeats`) for `worker --status`/`/healthz`.
"""

from __future__ import annotations

import json
import logging
import os
import random
import socket
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import or_, select, text, update

from cases.outbox import RESIDENT_SINKS, PermanentError, RecipientUnreachable, RetryableError
from gateway.metrics import DELIVERY_SECONDS
from gateway.sinks import platform_sinks
from settings.typed import WorkerSettings
from storage import heartbeats
from storage.db import transaction
from storage.faults import Backoff, storage_unavailable
from storage.models import Outbox, Reporter, utcnow
from storage.states import IN_FLIGHT, OutboxStatus

log = logging.getLogger(__name__)
SENDING = IN_FLIGHT


def backoff_delay(attempts: int, base: float, cap: float, rng: random.Random) -> float:
    """Exponential with "equal jitter": half the step fixed, half random, so retries of many
    rows failing together spread out instead of hitting the platform at the same moment."""
    step = min(cap, base * 2 ** max(attempts - 1, 0))
    return step / 2 + rng.uniform(0, step / 2)


@dataclass
class Outcome:
    row: Outbox
    kind: str  # done | retry | dead | unreachable
    detail: str | None = None
    result: dict | None = None


class Worker:
    def __init__(self, runtime: Any, settings: WorkerSettings | None = None,
                 worker_id: str | None = None, rng: random.Random | None = None) -> None:
        self.runtime = runtime
        self.settings = settings or WorkerSettings.from_config(runtime.config)
        self.id = worker_id or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.rng = rng or random.Random()
        self.postgres = runtime.db.dialect.name == "postgresql"
        self.http = httpx.Client(timeout=self.settings.timeout_s)
        self.sinks = platform_sinks(runtime.settings.platform, self.http)
        self.started_at = utcnow()
        self.delivered = 0
        self._beat_at = float("-inf")

    def close(self) -> None:
        self.http.close()

    def heartbeat(self, state: str = "running", last_error: str | None = None, force: bool = False) -> None:
        """Write the heartbeat if the last one is `heartbeats.HEARTBEAT_S` old (or `force`)."""
        if not force and time.monotonic() - self._beat_at < heartbeats.HEARTBEAT_S:
            return
        with transaction(self.runtime.sessions) as session:
            heartbeats.beat(session, self.id, state, self.delivered, last_error, self.started_at)
        self._beat_at = time.monotonic()

    # ---- claiming -------------------------------------------------------------------------

    def _settle_in_doubt(self, session) -> None:
        now = utcnow()
        session.execute(
            update(Outbox)
            .where(Outbox.locked_by.is_not(None), Outbox.locked_until < now,  # ix_outbox_in_flight
                   Outbox.status == OutboxStatus.PENDING, Outbox.locked_by.like("%" + SENDING),
                   Outbox.sink.in_(RESIDENT_SINKS))
            .values(status=OutboxStatus.DEAD, locked_by=None, locked_until=None,
                    last_error="in doubt: the worker stopped while sending; check, then `outbox retry`")
        )

    def claim(self) -> list[Outbox]:
        now = utcnow()
        free = or_(Outbox.locked_until.is_(None), Outbox.locked_until < now)
        with transaction(self.runtime.sessions) as session:
            self._settle_in_doubt(session)
            # ix_outbox_pending is in this order: the scan stops after a batch of free rows
            # instead of sorting the whole pending backlog.
            query = (select(Outbox.id)
                     .where(text("status = 'pending'"), Outbox.next_attempt_at <= now, free)
                     .order_by(Outbox.next_attempt_at, Outbox.id).limit(self.settings.batch_size))
            if self.postgres:
                query = query.with_for_update(skip_locked=True)
            ids = list(session.scalars(query))
            if not ids:
                return []
            claimed = list(session.scalars(
                update(Outbox).where(Outbox.id.in_(ids), Outbox.status == OutboxStatus.PENDING, free)
                .values(locked_by=self.id, locked_until=now + timedelta(seconds=self.settings.lease_s))
                .returning(Outbox.id)
            ))
            return list(session.scalars(select(Outbox).where(Outbox.id.in_(claimed))
                                        .order_by(Outbox.next_attempt_at, Outbox.id)))

    # ---- delivering -----------------------------------------------------------------------

    def run_once(self, limit: int | None = None) -> dict[str, int]:
        """Deliver until nothing is due (or `limit` rows were handled); counts by outcome."""
        counts = {"done": 0, "retry": 0, "dead": 0, "unreachable": 0}
        while limit is None or sum(counts.values()) < limit:
            batch = self.claim()
            if not batch:
                break
            for outcome in self.deliver(batch):
                counts[outcome.kind] += 1
                self.delivered += outcome.kind == "done"
            self.heartbeat()
        return counts

    def deliver(self, batch: list[Outbox]) -> list[Outcome]:
        # Stop early enough that no row is still being sent when the lease runs out.
        deadline = time.monotonic() + self.settings.lease_s - self.settings.timeout_s - 1
        outcomes: list[Outcome] = []
        for index, row in enumerate(batch):
            if time.monotonic() > deadline:
                self._release(batch[index:])
                break
            if row.sink in RESIDENT_SINKS:
                outcome = self._deliver_to_resident(row)
            else:
                # recorded at once, not with the batch: a worker killed now resends only the
                # row it was sending (same idempotency key), not the ones already delivered
                outcome = self._send(row)
                self._finish([outcome])
            if outcome is not None:
                outcomes.append(outcome)
                self.heartbeat()
        return outcomes

    def _send(self, row: Outbox) -> Outcome:
        send = self.sinks.get(row.sink) or self.runtime.senders.get(row.sink)
        try:
            if send is None:
                raise RetryableError(f"no sender for sink {row.sink!r}")
            return Outcome(row, "done", result=send(self.runtime, row))
        except RecipientUnreachable as exc:
            return Outcome(row, "unreachable", f"recipient unreachable: {exc}")
        except PermanentError as exc:
            return Outcome(row, "dead", f"permanent: {exc}")
        except RetryableError as exc:
            return Outcome(row, "retry", str(exc))
        except Exception as exc:  # a bug in a sender must not stop the other deliveries
            log.exception("sender for %s failed on row %s", row.sink, row.id)
            return Outcome(row, "retry", f"{type(exc).__name__}: {exc}")

    def _deliver_to_resident(self, row: Outbox) -> Outcome | None:
        """Mark the row as in flight (committed) before sending, then record at once."""
        with transaction(self.runtime.sessions) as session:
            reporter_id = (row.payload or {}).get("reporter_id")
            reporter = session.get(Reporter, reporter_id) if reporter_id else None
            held = session.execute(
                update(Outbox).where(Outbox.id == row.id, Outbox.locked_by == self.id)
                .values(locked_by=self.id + SENDING)
            ).rowcount
        if not held:
            return None
        if reporter is not None and reporter.unreachable:
            outcome = Outcome(row, "done", "skipped: the resident is unreachable",
                              {"skipped": "unreachable"})
        else:
            outcome = self._send(row)
        self._finish([outcome], owner=self.id + SENDING)
        return outcome

    def _release(self, rows: list[Outbox]) -> None:
        with transaction(self.runtime.sessions) as session:
            session.execute(update(Outbox).where(Outbox.id.in_([r.id for r in rows]),
                                                 Outbox.locked_by == self.id)
                            .values(locked_by=None, locked_until=None))

    def _finish(self, outcomes: list[Outcome], owner: str | None = None) -> None:
        """Record outcomes in one transaction; rows whose lease was lost meanwhile are left alone.
        Successes with the same result share one UPDATE (the common case under load)."""
        owner = owner or self.id
        now = utcnow()
        table = Outbox.__table__
        held = (table.c.locked_by == owner)
        release = {"attempts": table.c.attempts + 1, "locked_by": None, "locked_until": None}
        groups: dict[tuple[str, str | None], list[Outcome]] = {}
        with transaction(self.runtime.sessions) as session:
            for outcome in outcomes:
                attempts = outcome.row.attempts + 1
                if outcome.kind in ("done", "unreachable"):
                    key = (json.dumps(outcome.result, sort_keys=True), outcome.detail)
                    groups.setdefault(key, []).append(outcome)
                    continue
                values: dict[str, Any] = {**release, "last_error": outcome.detail}
                if outcome.kind == "dead" or self._out_of_time(outcome.row, attempts, now):
                    outcome.kind = "dead"
                    values["status"] = OutboxStatus.DEAD
                else:
                    delay = backoff_delay(attempts, self.settings.backoff_base_s,
                                          self.settings.backoff_cap_s, self.rng)
                    values["next_attempt_at"] = now + timedelta(seconds=delay)
                if not session.execute(update(table).where(table.c.id == outcome.row.id, held)
                                       .values(**values)).rowcount:
                    log.warning("row %s: lease lost before the outcome was recorded", outcome.row.id)
            for group in groups.values():
                first = group[0]
                recorded = set(session.scalars(
                    update(table).where(table.c.id.in_([o.row.id for o in group]), held)
                    .values(**release, status=OutboxStatus.DONE, delivered_at=now, result=first.result,
                            last_error=first.detail)
                    .returning(table.c.id)
                ))
                for outcome in group:
                    if outcome.row.id in recorded:
                        self._after(session, outcome)
                        if outcome.kind == "done":
                            DELIVERY_SECONDS.labels(outcome.row.sink).observe(
                                (now - outcome.row.created_at).total_seconds())
                    else:
                        log.warning("row %s: lease lost before the outcome was recorded", outcome.row.id)

    def _out_of_time(self, row: Outbox, attempts: int, now) -> bool:
        """A failing row is dead-lettered once it has been retried for `retry_for_s` since it
        was written (or after `max_attempts`, when that is set)."""
        limit = self.settings.max_attempts
        return (now - row.created_at).total_seconds() >= self.settings.retry_for_s or (
            limit > 0 and attempts >= limit)

    def _after(self, session, outcome: Outcome) -> None:
        row = outcome.row
        if outcome.kind == "unreachable":
            reporter_id = (row.payload or {}).get("reporter_id")
            reporter = session.get(Reporter, reporter_id) if reporter_id else None
            if reporter is not None:
                reporter.unreachable = True
        elif outcome.kind == "done" and row.sink in self.sinks:
            self.sinks[row.sink].delivered(session, row, outcome.result)


def run_forever(runtime: Any, worker: Worker, stop, idle_s: float = 1.0,
                periodic: list | None = None, periodic_every_s: float = 60.0,
                backoff: Backoff | None = None) -> None:
    """Deliver until `stop` (a threading.Event) is set. The `periodic` jobs (overdue sweep,
    inbound retry, status poll) run in a thread of their own, so a long sweep never holds up
    deliveries.

    Any error of a round (the database restarting, refusing connections) is logged once, waited
    out with a doubling pause (1 s up to 30 s) and the round tried again; rows claimed by a
    round that failed are taken again when their lease runs out, with the same idempotency key.
    """
    backoff = backoff or Backoff(f"outbox worker {worker.id}", log)
    jobs = None
    if periodic:
        jobs = threading.Thread(target=run_periodic, args=(periodic, stop, periodic_every_s),
                                name="periodic-jobs", daemon=True)
        jobs.start()
    while not stop.is_set():
        try:
            worker.heartbeat(force=bool(backoff.failures))
            counts = worker.run_once(limit=worker.settings.batch_size * 10)
            if recovered := backoff.succeeded():
                worker.heartbeat("running", last_error=recovered, force=True)
        except Exception as exc:
            stop.wait(backoff.failed(exc))
            continue
        if not any(counts.values()):
            stop.wait(idle_s)
    if jobs is not None:
        jobs.join()
    try:
        worker.heartbeat("stopped", force=True)
    except Exception as exc:  # stopping while the database is away: the beat just goes stale
        log.warning("last heartbeat not written: %s", exc)


def run_periodic(jobs: list, stop, every_s: float) -> None:
    """Each job now, then every `every_s` seconds, until `stop` is set; a job's bug does not
    stop the others, and a lost database is waited out like the delivery loop does."""
    backoff = Backoff("periodic jobs", log)
    while not stop.is_set():
        pause = every_s
        for job in jobs:
            try:
                job()
            except Exception as exc:
                if storage_unavailable(exc):
                    pause = backoff.failed(exc)
                    break
                log.exception("periodic job %s failed", getattr(job, "__name__", job))
        else:
            backoff.succeeded()
        stop.wait(pause)
