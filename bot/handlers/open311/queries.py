"""GET requests (with the spec's filters), GET requests/{id}, and the `servicerequestupdates`
extension as FixMyStreet uses it: the history of requests as updates, and residents' updates
posted by a client (kept as `comment` events; they never change the case's status)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from bot.handlers.open311 import params as p
from bot.handlers.open311.filing import CHANNEL, notice
from bot.handlers.open311.render import Open311Error
from bot.handlers.open311.services import code_of, label_of
from bot.i18n import status_name
from bot.inbox import claim_for_filing, hold
from bot.types import Inbound
from cases.document import mask_phone
from categories import CategoryTree
from storage.db import transaction
from storage.models import Case, CaseEvent, InboundMessage, utcnow
from storage.states import CaseStatus, InboundStatus

S = CaseStatus
STATUSES = {s.value for s in S}
MAX_ROWS = 1000
CLOSED = (S.CLOSED, S.REJECTED)
COMMENT = "comment"
# FixMyStreet's states for an update (its "additional states" extension), by our status.
FMS_STATUS = {
    S.ACCEPTED: "OPEN", S.NEEDS_LOCATION: "OPEN", S.FILED: "OPEN", S.REOPENED: "OPEN",
    S.DISPATCHED: "ACTION_SCHEDULED", S.IN_PROGRESS: "IN_PROGRESS", S.HANDLED: "FIXED",
    S.VERIFIED: "FIXED", S.CLOSED: "CLOSED", S.REJECTED: "NO_FURTHER_ACTION",
}


def open_or_closed(status: CaseStatus) -> str:
    return "closed" if status in CLOSED else "open"


def _masked(case: Case) -> str:
    """The resident's words with the phone numbers the classifier found masked (public GETs)."""
    text = case.text
    for phone in ((case.evidence or {}).get("classification") or {}).get("phones") or []:
        digits = re.sub(r"\D", "", phone)[-11:]
        if digits and digits in text:
            text = text.replace(digits, mask_phone(digits))
    return text


def request_row(tree: CategoryTree, case: Case, public: bool) -> dict[str, Any]:
    category = tree.get(case.label)
    status_events = [e for e in case.events if e.status in STATUSES]
    noted = next((e.note for e in reversed(status_events) if e.note), None)
    agency = next((e.department for e in reversed(case.events) if e.department), None)
    extra = (case.evidence or {}).get("open311") or {}
    return {
        "service_request_id": case.number,
        "status": open_or_closed(case.status),
        "status_notes": noted,
        "service_name": category.name_zh if category else case.category_name or None,
        "service_code": code_of(category) if category else None,
        "description": _masked(case) if public else case.text,
        "agency_responsible": agency or (category.department if category else None) or None,
        "service_notice": notice(case),
        "requested_datetime": p.w3(case.created_at),
        "updated_datetime": p.w3(case.updated_at),
        "expected_datetime": p.w3(case.due_at),
        "address": case.place_text,
        "address_id": case.grid_code,
        "zipcode": None,
        "lat": case.lat,
        "long": case.lon,
        "media_url": extra.get("media_url"),
    }


def window(fields: Mapping[str, str], max_days: int) -> tuple[datetime, datetime]:
    """start_date..end_date as the spec has it: at most max_days; the latest max_days when
    neither is given, max_days from the one that is."""
    start, end = p.when(fields, "start_date"), p.when(fields, "end_date")
    span = timedelta(days=max_days)
    if start and end and end - start > span:
        raise Open311Error(400, f"start_date to end_date may not span more than {max_days} days")
    if start and end and end < start:
        raise Open311Error(400, "end_date is before start_date")
    if start is None and end is None:
        end = utcnow()
    return (start or end - span), (end or start + span)


def _listed(value: str | None) -> list[str]:
    return [v.strip() for v in (value or "").split(",") if v.strip()]


def find_requests(runtime, fields: Mapping[str, str], public: bool) -> list[dict[str, Any]]:
    tree = runtime.tree()
    query = select(Case).options(selectinload(Case.events)).where(Case.number.is_not(None))
    ids = _listed(fields.get("service_request_id"))
    if ids:
        query = query.where(Case.number.in_(ids[:MAX_ROWS]))
    else:
        start, end = window(fields, runtime.settings.open311_server.max_days)
        query = query.where(Case.created_at >= start, Case.created_at <= end)
        codes = _listed(fields.get("service_code"))
        if codes:
            labels = []
            for code in codes:
                try:
                    labels.append(label_of(tree, code))
                except Open311Error:
                    continue  # a code we do not offer matches nothing
            query = query.where(Case.label.in_(labels))
        statuses = {s.lower() for s in _listed(fields.get("status"))}
        if statuses - {"open", "closed"}:
            raise Open311Error(400, "status must be open or closed (comma separated)")
        if statuses == {"closed"}:
            query = query.where(Case.status.in_(CLOSED))
        elif statuses == {"open"}:
            query = query.where(Case.status.not_in(CLOSED))
    query = query.order_by(Case.created_at.desc()).limit(MAX_ROWS)
    with transaction(runtime.sessions) as session:
        return [request_row(tree, case, public) for case in session.scalars(query)]


def one_request(runtime, number: str, public: bool) -> dict[str, Any]:
    with transaction(runtime.sessions) as session:
        case = session.scalar(select(Case).where(Case.number == number))
        if case is None:
            raise Open311Error(404, f"service_request_id {number} was not found")
        return request_row(runtime.tree(), case, public)


# ---- servicerequestupdates ---------------------------------------------------------------

def update_row(event: CaseEvent, case: Case) -> dict[str, Any]:
    status = S(event.status) if event.status in STATUSES else case.status
    return {
        "update_id": str(event.id),
        "service_request_id": case.number,
        "status": FMS_STATUS[status],
        "updated_datetime": p.w3(event.created_at),
        "description": event.note or status_name(event.status, case.language),
        "media_url": event.photo_url,
        "external_status_code": event.status,
    }


def find_updates(runtime, fields: Mapping[str, str]) -> list[dict[str, Any]]:
    """Status changes and comments, oldest first, within the window."""
    start, end = window(fields, runtime.settings.open311_server.max_days)
    kinds = [*STATUSES, COMMENT]
    query = (select(CaseEvent, Case).join(Case, CaseEvent.case_id == Case.id)
             .where(CaseEvent.created_at >= start, CaseEvent.created_at <= end,
                    CaseEvent.status.in_(kinds), Case.number.is_not(None))
             .order_by(CaseEvent.id).limit(MAX_ROWS))
    with transaction(runtime.sessions) as session:
        return [update_row(event, case) for event, case in session.execute(query)]


def post_update(runtime, client: str, fields: Mapping[str, str]) -> str:
    """A resident's update through the client, kept on the case as a comment; its update_id.
    The client's own update_id (or update_id_ext) makes a repeated post answer the same."""
    number = p.text(fields, "service_request_id", 40)
    if not number:
        raise Open311Error(400, "service_request_id is required")
    description = p.text(fields, "description", runtime.settings.bot.max_text_chars)
    if not description:
        raise Open311Error(400, "description is required")
    client_status = (p.text(fields, "status", 40) or "").upper() or None
    media_url = p.text(fields, "media_url", 2000)
    theirs = p.text(fields, "update_id", 120) or p.text(fields, "update_id_ext", 120)
    raw = {k: v for k, v in fields.items() if k != "api_key"}
    inbound = Inbound(channel=CHANNEL, sender=client, key=f"update:{theirs or uuid.uuid4().hex}",
                      text=description, payload={"update": raw, "client": client})
    recorded = runtime.engine.inbox.record(inbound)
    answer = claim_for_filing(runtime.sessions, recorded.id)
    if answer is not None:
        return answer["update_id"]
    try:
        with transaction(runtime.sessions) as session:
            case = session.scalar(select(Case).where(Case.number == number))
            if case is None:
                raise Open311Error(404, f"service_request_id {number} was not found")
            names = " ".join(filter(None, (fields.get("first_name"), fields.get("last_name"))))
            event = CaseEvent(case_id=case.id, status=COMMENT, note=description,
                              photo_url=media_url, actor=f"open311:{client}"[:60],
                              data={"client_status": client_status, "client_update_id": theirs,
                                    "name": names or None})
            session.add(event)
            session.flush()
            update_id = str(event.id)
            row = session.get(InboundMessage, recorded.id)
            row.status, row.processed_at = InboundStatus.PROCESSED, utcnow()
            row.replies = [{"text": update_id, "choices": [], "request_location": False,
                            "case_number": number, "update_id": update_id}]
    except Exception as exc:
        hold(runtime.sessions, recorded.id, exc)
        raise
    return update_id
