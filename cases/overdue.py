"""Cases past their category's handling time limit get an `overdue` event (once) and, when
configured, a notice to the platform.

The sweep works in batches of at most `BATCH` cases, one transaction each: a burst of tens of
thousands of newly overdue cases neither holds one huge transaction nor blocks deliveries."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, text
from sqlalchemy.orm import Session, sessionmaker

from cases.platform import Platform
from cases.status import FINAL_STATUSES
from storage.db import transaction
from storage.models import OPEN_DUE, Case, CaseEvent, utcnow

BATCH = 1000


def mark_overdue(session: Session, platform: Platform, notify_platform: bool = True,
                 now: datetime | None = None, limit: int = BATCH) -> list[str]:
    """Flag up to `limit` cases (the longest overdue first); their numbers."""
    now = now or utcnow()
    cases = session.scalars(
        select(Case).where(text(OPEN_DUE), Case.due_at < now)
        .order_by(Case.due_at).limit(limit).with_for_update(skip_locked=True)
    ).all()
    for case in cases:
        flag_overdue(session, case, now, platform if notify_platform else None)
    return [c.number for c in cases]


def sweep_overdue(sessions: sessionmaker[Session], platform: Platform, notify_platform: bool = True,
                  now: datetime | None = None, batch: int = BATCH) -> list[str]:
    """Every case overdue at `now`, `batch` cases a transaction; all their numbers."""
    now = now or utcnow()
    numbers: list[str] = []
    while True:
        with transaction(sessions) as session:
            done = mark_overdue(session, platform, notify_platform, now, batch)
        numbers += done
        if len(done) < batch:
            return numbers


def falls_overdue(case: Case, now: datetime) -> bool:
    """The sweep's filter for one case at hand (a relabel that shortened its time limit)."""
    return (case.due_at is not None and case.due_at < now and not case.overdue
            and case.status not in FINAL_STATUSES and case.duplicate_of_id is None)


def flag_overdue(session: Session, case: Case, now: datetime, platform: Platform | None) -> None:
    """The case's one `overdue` event, and the platform's notice when ``platform`` is given."""
    case.overdue = True
    late_h = round((now - case.due_at).total_seconds() / 3600, 1)
    # Set from the event's side, so a sweep never loads the cases' histories.
    session.add(CaseEvent(case=case, status="overdue",
                          data={"due_at": case.due_at.isoformat(), "late_hours": late_h}))
    if platform is not None:
        platform.notice(session, case, "overdue", key=case.number,
                        data={"due_at": case.due_at.isoformat(), "status": case.status})
