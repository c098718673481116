"""Administrators' category edits in the database, layered over the shipped tree, with a version."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from categories import CategoryTree, load_tree
from storage.models import CategoryOverride, Counter

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
