"""An administrator's relabel of a filed case: the new class brings its own handling time limit
and owning department, so the due time is recomputed, the platform is told and so are the
residents behind an open case — all in the transaction of the relabel, like every other
delivery."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy.orm import Session

from cases.notices import notify_all
from cases.overdue import falls_overdue, flag_overdue
from cases.platform import Platform
from cases.status import OPEN_STATUSES
from categories import NONE_LABEL, Category, CategoryTree
from nlp.types import Classification
from storage.models import Case, CaseEvent, utcnow


def category_fields(category: Category | None) -> dict[str, Any]:
    """The fields a case or a classification copies from its class (none when the label has
    no class, e.g. `none`)."""
    return {"kind": category.kind if category else None,
            "major": category.major if category else None,
            "minor": category.minor if category else None,
            "name_zh": category.name_zh if category else "",
            "name_en": category.name_en if category else ""}


def relabel(tree: CategoryTree, classification: Classification, label: str) -> Classification:
    """A person's correction of the class (resident's pick, operator's override), kept as evidence."""
    if label != NONE_LABEL and label not in tree:
        raise ValueError(f"unknown label {label}")
    fields = category_fields(tree.get(label))
    classification.evidence = {**classification.evidence, "override": label,
                               "classified_as": classification.label}
    classification.label = label
    classification.kind, classification.major = fields["kind"], fields["major"]
    classification.minor = fields["minor"]
    classification.name, classification.name_en = fields["name_zh"], fields["name_en"]
    return classification


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
    fields = category_fields(category)
    case.label = label
    case.kind, case.major, case.minor = fields["kind"], fields["major"], fields["minor"]
    case.category_name = fields["name_zh"]
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
