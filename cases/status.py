"""The case's life after filing: which status may follow which, and what each change sets off
(a case event, messages to the residents, the rating question after closure)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from bot.i18n import status_name
from cases.notices import ask_for_rating, notify_all
from storage.models import Case, CaseEvent, utcnow

OPEN_WORK = {"filed", "dispatched", "in_progress", "handled", "rejected", "closed"}
TRANSITIONS: dict[str, set[str]] = {
    "accepted": OPEN_WORK,
    "needs_location": OPEN_WORK,
    "reopened": OPEN_WORK,
    "filed": OPEN_WORK - {"filed"},
    "dispatched": {"dispatched", "in_progress", "handled", "rejected", "closed"},
    "in_progress": {"dispatched", "handled", "closed"},
    "handled": {"in_progress", "verified", "closed", "reopened"},
    "verified": {"closed", "reopened"},
    "closed": {"reopened"},
    "rejected": {"reopened"},
}
PLATFORM_STATUSES = ("filed", "dispatched", "in_progress", "handled", "verified", "closed",
                     "rejected", "reopened")
OPEN_STATUSES = ("accepted", "needs_location", "filed", "dispatched", "in_progress", "handled",
                 "verified", "reopened")
QUIET = {"verified"}  # internal checks; the resident hears about the closure instead


class BadEvent(ValueError):
    """The event is malformed (unknown status, a required field missing)."""


class IllegalTransition(ValueError):
    """The case cannot move from its status to the requested one (e.g. closed → dispatched)."""


def check_event(status: object, note: str | None, department: str | None) -> str:
    if status not in PLATFORM_STATUSES:
        raise BadEvent(f"unknown status {status!r}; one of: {', '.join(PLATFORM_STATUSES)}")
    if status == "dispatched" and not department:
        raise BadEvent("dispatched needs the department")
    if status == "rejected" and not note:
        raise BadEvent("rejected needs the reason as note")
    return str(status)


def apply_status(session: Session, case: Case, status: str, *, note: str | None = None,
                 department: str | None = None, photo_url: str | None = None,
                 actor: str = "platform") -> CaseEvent:
    status = check_event(status, note, department)
    if status not in TRANSITIONS.get(case.status, set()):
        raise IllegalTransition(f"case {case.number} is {case.status}; it cannot become {status}")
    now = utcnow()
    case.status = status
    case.updated_at = now
    if status == "closed":
        case.closed_at = now
    elif status == "reopened":
        case.closed_at = None
    event = CaseEvent(status=status, note=note, department=department, photo_url=photo_url,
                      actor=actor, created_at=now)
    case.events.append(event)
    session.flush()
    dedupe = f"notify:{event.id}"
    if status == "closed":
        ask_for_rating(session, case, dedupe)
    elif status not in QUIET:
        _tell_residents(session, case, status, note, department, dedupe)
    return event


def _tell_residents(session: Session, case: Case, status: str, note: str | None,
                    department: str | None, dedupe: str) -> None:
    if status == "dispatched":
        notify_all(session, case, key="case_dispatched", dedupe=dedupe, department=department)
    elif status == "rejected":
        notify_all(session, case, key="case_rejected", dedupe=dedupe, reason=(note or "")[:40])
    else:
        for_lang = {lang: status_name(status, lang) for lang in ("zh", "en")}
        notify_all(session, case, key="case_progress", dedupe=dedupe,
                   status_zh=for_lang["zh"], status_en=for_lang["en"])
