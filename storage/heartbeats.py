"""Workers' heartbeats: written by each outbox worker every few seconds, read by
`gridintake worker --status` and `/healthz`."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from storage.models import WorkerHeartbeat, utcnow

HEARTBEAT_S = 5.0  # a running worker writes its heartbeat this often
STALE_AFTER = timedelta(seconds=30)  # a heartbeat older than this: the worker is not working


def beat(session: Session, worker_id: str, state: str, delivered: int,
         last_error: str | None = None, started_at: datetime | None = None) -> None:
    """Record that `worker_id` is alive now (one UPDATE, an INSERT the first time)."""
    values: dict[str, Any] = {"beat_at": utcnow(), "state": state, "delivered": delivered}
    if last_error is not None:
        values["last_error"] = last_error
    if not session.execute(update(WorkerHeartbeat).where(WorkerHeartbeat.worker_id == worker_id)
                           .values(**values)).rowcount:
        session.add(WorkerHeartbeat(worker_id=worker_id, started_at=started_at or utcnow(), **values))


def status(session: Session, stale_after: timedelta = STALE_AFTER,
           keep: timedelta = timedelta(days=1)) -> dict:
    """Every worker seen within `keep`, newest first, and how many beat within `stale_after`."""
    now = utcnow()
    rows = session.scalars(select(WorkerHeartbeat).where(WorkerHeartbeat.beat_at > now - keep)
                           .order_by(WorkerHeartbeat.beat_at.desc())).all()
    workers = [{
        "worker": row.worker_id, "state": row.state,
        "alive": row.state != "stopped" and now - row.beat_at <= stale_after,
        "last_beat_s": round((now - row.beat_at).total_seconds(), 1),
        "started_at": row.started_at.isoformat(), "delivered": row.delivered,
        "last_error": row.last_error,
    } for row in rows]
    return {"alive": sum(w["alive"] for w in workers), "workers": workers}
