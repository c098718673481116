"""Bring status back from Open311: resolve tokens to request ids, then map `closed` (and the
responsible agency while the case waits) onto our status machine."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from cases.open311 import TOKEN_PREFIX
from cases.status import FINAL_STATUSES, IllegalTransition, apply_status
from gateway.sinks.open311 import Open311Client
from storage.db import transaction
from storage.models import Case
from storage.states import CaseStatus

WAITING = (CaseStatus.ACCEPTED, CaseStatus.NEEDS_LOCATION, CaseStatus.FILED, CaseStatus.REOPENED)


def _apply(session: Session, case: Case, request: dict) -> str | None:
    status = str(request.get("status", "")).lower()
    note = request.get("status_notes") or None
    agency = request.get("agency_responsible") or None
    try:
        if status == "closed" and case.status != CaseStatus.CLOSED:
            apply_status(session, case, CaseStatus.CLOSED, note=note, actor="open311")
            return "closed"
        if status == "open" and agency and case.status in WAITING:
            apply_status(session, case, CaseStatus.DISPATCHED, department=agency, note=note, actor="open311")
            return "dispatched"
    except IllegalTransition:
        return None
    return None


def poll_open311(sessions: sessionmaker[Session], client: Open311Client,
                 batch: int = 50) -> dict[str, str]:
    """Returns {case number: new status} for the cases that changed."""
    changes: dict[str, str] = {}
    with transaction(sessions) as session:
        pending = session.scalars(select(Case).where(Case.external_id.like(TOKEN_PREFIX + "%"))).all()
        for case in pending:
            request_id = client.resolve_token(case.external_id[len(TOKEN_PREFIX):])
            if request_id:
                case.external_id = request_id
    with transaction(sessions) as session:
        cases = session.scalars(
            select(Case).where(Case.external_id.is_not(None), ~Case.external_id.like(TOKEN_PREFIX + "%"),
                               Case.status.not_in(FINAL_STATUSES))
        ).all()
        by_id = {c.external_id: c for c in cases}
        ids = list(by_id)
        for start in range(0, len(ids), batch):
            for request in client.statuses(ids[start:start + batch]):
                case = by_id.get(str(request.get("service_request_id")))
                if case is not None and (changed := _apply(session, case, request)):
                    changes[case.number] = changed
    return changes
