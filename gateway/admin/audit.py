"""Every administrative change leaves a row: who, when, what, before and after."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from storage.models import AuditLog


def record(session: Session, actor: str, action: str, target: str | None,
           before: Any = None, after: Any = None) -> AuditLog:
    row = AuditLog(actor=actor, action=action, target=target, before=before, after=after)
    session.add(row)
    return row
