"""The review queue: uncertain cases and residents' corrections; confirm or relabel."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from cases.platform import Platform
from cases.relabel import relabel_case
from categories import NONE_LABEL, CategoryTree
from gateway.admin.audit import record
from storage.models import IN_REVIEW, Case, TrainingExample

QUEUE_LIMIT = 50


def _classification(case: Case) -> dict[str, Any]:
    return (case.evidence or {}).get("classification") or {}


def resident_override(case: Case) -> str | None:
    """The class a person chose instead of the classifier's (resident's pick or operator's)."""
    evidence = case.evidence or {}
    return evidence.get("override") or (_classification(case).get("evidence") or {}).get("override")


def machine_label(case: Case) -> str:
    """What the classifier said before anyone corrected it."""
    cls = _classification(case)
    return (cls.get("evidence") or {}).get("classified_as") or cls.get("label") or case.label


def queue_filter():
    """Uncertain cases, and cases a person classed at filing not yet reviewed: the predicate of
    the partial index `ix_case_review`, word for word, so the count reads that index only."""
    return text(IN_REVIEW)


def queue(session: Session, limit: int = QUEUE_LIMIT) -> list[Case]:
    return list(session.scalars(select(Case).where(queue_filter())
                                .order_by(Case.created_at.desc()).limit(limit)))


def decide(session: Session, tree: CategoryTree, case: Case, label: str, actor: str,
           platform: Platform | None = None) -> bool:
    """Confirm (same label) or relabel the case; returns True when a training example was added.

    A final label that differs from the classifier's answer is a lesson for the next retraining.
    """
    if label != NONE_LABEL and tree.get(label) is None:
        raise ValueError(f"unknown label {label}")
    before = {"label": case.label, "needs_review": case.needs_review}
    learned = label != machine_label(case)
    case.label_before_review = case.label
    relabel_case(session, tree, case, label, actor, platform)
    case.needs_review = False
    if learned:
        session.add(TrainingExample(text=case.text, label=label, source="review", case_id=case.id))
    action = "review.confirm" if label == before["label"] else "review.relabel"
    record(session, actor, action, case.number or str(case.id), before,
           {"label": label, "needs_review": False, "training_example": learned})
    return learned
