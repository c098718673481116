"""Administrators' category edits in the database, layered over the shipped tree, with a version."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from categories import CategoryTree, load_tree
from storage.models import AuditLog, CategoryOverride, Counter

KEYWORD_VERSION = "keyword_version"


def keyword_version(session: Session) -> int:
    value = session.scalar(select(Counter.value).where(Counter.name == KEYWORD_VERSION))
    return value or 0


def bump_counter(session: Session, name: str) -> int:
    """Increment a shared counter atomically (row lock on PostgreSQL, database lock on SQLite)."""
    result = session.execute(
        update(Counter).where(Counter.name == name).values(value=Counter.value + 1)
        .returning(Counter.value)
    ).scalar()
    if result is None:
        session.add(Counter(name=name, value=1))
        session.flush()
        return 1
    return result


def effective_tree(session: Session, base: CategoryTree | None = None) -> CategoryTree:
    base = base or load_tree()
    overrides = {o.label: o.data for o in session.scalars(select(CategoryOverride))}
    return base.with_overrides(overrides, version=keyword_version(session))


def save_override(session: Session, label: str, data: dict[str, Any], actor: str) -> int:
    """Store one class's edited fields and bump the keyword version; returns the new version."""
    row = session.get(CategoryOverride, label)
    if row is None:
        session.add(CategoryOverride(label=label, data=data, updated_by=actor))
    else:
        row.data = data
        row.updated_by = actor
    return bump_counter(session, KEYWORD_VERSION)


MODEL_VERSION = "model_version"
MODEL_ACTIONS = ("model.activate", "model.rollback")


def active_model(session: Session) -> tuple[int, str | None]:
    """The trained model every classifier should use: (version, directory; None = shipped).

    The version is a counter all processes poll; the directory is the ``after`` of the audit row
    written with it (the audit log already keeps every activation, so no table of its own).
    """
    version = session.scalar(select(Counter.value).where(Counter.name == MODEL_VERSION)) or 0
    if not version:
        return 0, None
    after = session.scalar(select(AuditLog.after).where(AuditLog.action.in_(MODEL_ACTIONS))
                           .order_by(AuditLog.id.desc()).limit(1))
    return version, (after or {}).get("model_dir")


def set_active_model(session: Session, model_dir: str | None, actor: str) -> int:
    """Make ``model_dir`` (None: the shipped model) the active one; audited; returns the version."""
    before_version, before_dir = active_model(session)
    version = bump_counter(session, MODEL_VERSION)
    session.add(AuditLog(actor=actor, action=MODEL_ACTIONS[model_dir is None], target=model_dir or "shipped",
                         before={"model_dir": before_dir, "model_version": before_version},
                         after={"model_dir": model_dir, "model_version": version}))
    return version
