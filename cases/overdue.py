"""Cases past their category's handling time limit get an `overdue` event (once) and, when
configured, a notice to the platform."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from cases.platform import Platform
from cases.status import OPEN_STATUSES
from storage.models import Case, CaseEvent, utcnow


def mark_overdue(session: Session, platform: Platform, notify_platform: bool = True,
                 now: datetime | None = None) -> list[str]:
    now = now or utcnow()
    cases = session.scalars(
        select(Case).where(Case.due_at.is_not(None), Case.due_at < now, Case.overdue.is_(False),
                           Case.status.in_(OPEN_STATUSES), Case.duplicate_of_id.is_(None))
        .order_by(Case.due_at).with_for_update(skip_locked=True)
    ).all()
    for case in cases:
        flag_overdue(session, case, now, platform if notify_platform else None)
    return [c.number for c in cases]


def falls_overdue(case: Case, now: datetime) -> bool:
    """The sweep's filter for one case at hand (a relabel that shortened its time limit)."""
    return (case.due_at is not None and case.due_at < now and not case.overdue
            and case.status in OPEN_STATUSES and case.duplicate_of_id is None)


def flag_overdue(session: Session, case: Case, now: datetime, platform: Platform | None) -> None:
    """The case's one `overdue` event, and the platform's notice when ``platform`` is given."""
    case.overdue = True
    late_h = round((now - case.due_at).total_seconds() / 3600, 1)
    event = CaseEvent(status="overdue", data={"due_at": case.due_at.isoformat(), "late_hours": late_h})
    case.events.append(event)
    session.flush()
    if platform is not None:
        platform.notice(session, case, "overdue", key=case.number,
                        data={"due_at": case.due_at.isoformat(), "status": case.status})
