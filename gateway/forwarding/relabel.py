"""An administrator's relabel of a filed case: the new class brings its own handling time limit
and owning department, so the due time is recomputed, the platform is told and so are the
residents behind an open case — all in the transaction of the relabel, like every other
delivery."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.orm import Session

from categories import CategoryTree
from gateway.forwarding.notify import notify_all
from gateway.forwarding.overdue import falls_overdue, flag_overdue
from gateway.forwarding.platform import Platform
from gateway.forwarding.status import OPEN_STATUSES
from storage.models import Case, CaseEvent, utcnow


def relabel_case(session: Session, tree: CategoryTree, case: Case, label: str, actor: str,
                 platform: Platform | None = None) -> CaseEvent | None:
    """Set the new class on the case; returns the `relabeled` event, or None if nothing changed.

    The due time counts from the case's filing (the resident has waited since then), so a
    shorter limit can make the case overdue at once: it is flagged in this transaction, not at
    the next sweep."""
    if label == case.label:
        return None
    before, due_before = case.label, case.due_at
    category = tree.get(label)
    case.label = label
    case.kind = category.kind if category else None
    case.major = category.major if category else None
    case.minor = category.minor if category else None
    case.category_name = category.name_zh if category else ""
    hours = category.time_limit_hours if category else None
    case.due_at = case.created_at + timedelta(hours=hours) if hours else None
    event = CaseEvent(case=case, status="relabeled", actor=actor, data={
        "from": before, "to": label,
        "due_before": due_before.isoformat() if due_before else None,
        "due_at": case.due_at.isoformat() if case.due_at else None,
    })
    session.add(event)
    session.flush()
    if platform is not None:
        platform.case_changed(session, case, key=f"{case.number}:{event.id}", reason="relabel")
    now = utcnow()
    if falls_overdue(case, now):
        notice = platform is not None and platform.overdue_notice
        flag_overdue(session, case, now, platform if notice else None)
    if category is not None and case.status in OPEN_STATUSES:
        notify_all(session, case, key="case_relabeled", dedupe=f"relabel:{event.id}",
                   category_zh=category.name_zh, category_en=category.name_en)
    return event
