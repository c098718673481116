"""Everything a case page shows beside the case itself: the resident's conversation, what was
forwarded and whether it arrived, photos before and after, linked duplicates.

Operators see phone numbers masked (the middle four digits); administrators see them whole."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.models import Case, CaseFollower, InboundMessage, Outbox, utcnow

PHONE = re.compile(r"(?<!\d)(\+?86)?(1[3-9]\d)(\d{4})(\d{4})(?!\d)")
CONVERSATION_BEFORE = timedelta(hours=6)  # the talk that led to the filing
CONVERSATION_LIMIT = 100


def mask(text: str | None, reveal: bool) -> str:
    """Mainland mobile numbers as 138****8000 unless the viewer may see them."""
    if not text or reveal:
        return text or ""
    return PHONE.sub(lambda m: f"{m.group(1) or ''}{m.group(2)}****{m.group(4)}", text)


@dataclass
class CaseExtras:
    conversation: list[dict[str, Any]] = field(default_factory=list)
    deliveries: list[dict[str, Any]] = field(default_factory=list)
    photos_before: list[str] = field(default_factory=list)  # sha256 of the resident's photos
    photos_after: list[str] = field(default_factory=list)  # URLs the platform sent with events
    duplicates: list[dict[str, Any]] = field(default_factory=list)
    followers: int = 0


def _conversation(session: Session, case: Case, reveal: bool) -> list[dict[str, Any]]:
    """The reporter's messages from shortly before the filing until the case closed, with the
    answers they got, in order."""
    if case.reporter_id is None:
        return []
    end = case.closed_at or utcnow()
    rows = session.scalars(
        select(InboundMessage).where(InboundMessage.reporter_id == case.reporter_id,
                                     InboundMessage.received_at >= case.created_at - CONVERSATION_BEFORE,
                                     InboundMessage.received_at <= end)
        .order_by(InboundMessage.id).limit(CONVERSATION_LIMIT))
    out = []
    for row in rows:
        said = row.text or (f"[{row.kind}]" if row.kind != "text" else "")
        replies = [mask(r.get("text"), reveal) for r in row.replies or [] if isinstance(r, dict)]
        out.append({"at": row.received_at, "kind": row.kind, "text": mask(said, reveal),
                    "status": row.status, "replies": replies})
    return out


def _deliveries(session: Session, case: Case, reveal: bool) -> list[dict[str, Any]]:
    rows = session.scalars(select(Outbox).where(Outbox.case_id == case.id).order_by(Outbox.id))
    out = []
    for row in rows:
        payload = row.payload if isinstance(row.payload, dict) else {}
        out.append({"sink": row.sink, "target": mask(row.target, reveal), "status": row.status,
                    "attempts": row.attempts, "error": row.last_error, "created_at": row.created_at,
                    "delivered_at": row.delivered_at, "text": mask(payload.get("text"), reveal),
                    "document": None if "text" in payload else payload})
    return out


def case_extras(session: Session, case: Case, reveal: bool) -> CaseExtras:
    linked = session.scalars(select(Case).where(Case.duplicate_of_id == case.id)
                             .order_by(Case.id).limit(50))
    followers = session.scalars(select(CaseFollower.id).where(CaseFollower.case_id == case.id)).all()
    return CaseExtras(
        conversation=_conversation(session, case, reveal),
        deliveries=_deliveries(session, case, reveal),
        photos_before=[a.sha256 for a in case.attachments if a.mime.startswith("image/")],
        photos_after=[e.photo_url for e in case.events if e.photo_url],
        duplicates=[{"number": c.number, "created_at": c.created_at, "text": c.text} for c in linked],
        followers=len(followers),
    )
