"""The case's life after filing: which status may follow which, and what each change sets off
(a case event, messages to the residents, the rating question after closure)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.orm import Session

from bot.i18n import status_name
from cases.notices import ask_for_rating, notify_all
from storage.models import Case, CaseEvent, utcnow
from storage.states import CaseStatus

S = CaseStatus
OPEN_WORK = {S.FILED, S.DISPATCHED, S.IN_PROGRESS, S.HANDLED, S.REJECTED, S.CLOSED}
# The one table of the case's life after filing: status → the statuses that may follow it.
TRANSITIONS: dict[CaseStatus, set[CaseStatus]] = {
    S.ACCEPTED: OPEN_WORK,
    S.NEEDS_LOCATION: OPEN_WORK,
    S.REOPENED: OPEN_WORK,
    S.FILED: OPEN_WORK - {S.FILED},
    S.DISPATCHED: {S.DISPATCHED, S.IN_PROGRESS, S.HANDLED, S.REJECTED, S.CLOSED},
    S.IN_PROGRESS: {S.DISPATCHED, S.HANDLED, S.CLOSED},
    S.HANDLED: {S.IN_PROGRESS, S.VERIFIED, S.CLOSED, S.REOPENED},
    S.VERIFIED: {S.CLOSED, S.REOPENED},
    S.CLOSED: {S.REOPENED},
    S.REJECTED: {S.REOPENED},
}
# What the platform may report (every status but the two a filing sets), in its documented order.
PLATFORM_STATUSES = (S.FILED, S.DISPATCHED, S.IN_PROGRESS, S.HANDLED, S.VERIFIED, S.CLOSED,
                     S.REJECTED, S.REOPENED)
OPEN_STATUSES = tuple(s for s in CaseStatus if s not in (S.CLOSED, S.REJECTED))
FINAL_STATUSES = (S.CLOSED, S.REJECTED)
QUIET = {S.VERIFIED}  # internal checks; the resident hears about the closure instead


class BadEvent(ValueError):
    """The event is malformed (unknown status, a required field missing)."""


class IllegalTransition(ValueError):
    """The case cannot move from its status to the requested one (e.g. closed → dispatched)."""


def check_event(status: object, note: str | None, department: str | None) -> CaseStatus:
    if status not in PLATFORM_STATUSES:
        raise BadEvent(f"unknown status {status!r}; one of: {', '.join(PLATFORM_STATUSES)}")
    if status == S.DISPATCHED and not department:
        raise BadEvent("dispatched needs the department")
    if status == S.REJECTED and not note:
        raise BadEvent("rejected needs the reason as note")
    return CaseStatus(status)


def apply_status(session: Session, case: Case, status: str, *, note: str | None = None,
                 department: str | None = None, photo_url: str | None = None,
                 actor: str = "platform", told: int | None = None) -> CaseEvent:
    """Move the case on and tell its residents (but ``told``, a reporter id answered already)."""
    status = check_event(status, note, department)
    if status not in TRANSITIONS.get(case.status, set()):
        raise IllegalTransition(f"case {case.number} is {case.status}; it cannot become {status}")
    now = utcnow()
    case.status = status
    case.updated_at = now
    if status == S.CLOSED:
        case.closed_at = now
    elif status == S.REOPENED:
        case.closed_at = None
    event = CaseEvent(status=status, note=note, department=department, photo_url=photo_url,
                      actor=actor, created_at=now)
    case.events.append(event)
    session.flush()
    dedupe = f"notify:{event.id}"
    if status == S.CLOSED:
        ask_for_rating(session, case, dedupe, note=note, photo_url=photo_url)
    elif status not in QUIET:
        _tell_residents(session, case, status, note, department, dedupe, told)
    return event


def reopen_window_open(case: Case, days: int) -> bool:
    """A closed case may be reopened by its residents for ``days`` after closure."""
    return (case.status == S.CLOSED and case.closed_at is not None
            and utcnow() - case.closed_at <= timedelta(days=days))


def _tell_residents(session: Session, case: Case, status: str, note: str | None,
                    department: str | None, dedupe: str, told: int | None) -> None:
    if status == S.DISPATCHED:
        notify_all(session, case, key="case_dispatched", dedupe=dedupe, department=department,
                   exclude=told)
    elif status == S.REJECTED:
        notify_all(session, case, key="case_rejected", dedupe=dedupe, reason=(note or "")[:40],
                   exclude=told)
    else:
        for_lang = {lang: status_name(status, lang) for lang in ("zh", "en")}
        notify_all(session, case, key="case_progress", dedupe=dedupe, note=note, exclude=told,
                   status_zh=for_lang["zh"], status_en=for_lang["en"])
