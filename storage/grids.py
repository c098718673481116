"""Imported grid cells shared by every host: the GeoJSON is kept in the media store under its
hash, and a version counter (polled by every process, like the keyword and model versions)
with an audit row says which file is the city's current one."""

from __future__ import annotations

import hashlib

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.catalog import bump_counter
from storage.media import MediaStore
from storage.models import AuditLog, Counter

GRID_VERSION = "grid_version"
IMPORT = "grids.import"


def publish_grids(session: Session, media: MediaStore, text: str, actor: str) -> int:
    """Store a validated GeoJSON and make it the current grids everywhere; returns the version."""
    data = text.encode("utf-8")
    key = f"grids/{hashlib.sha256(data).hexdigest()}.geojson"
    if not media.exists(key):
        media.put(key, data)
    version = bump_counter(session, GRID_VERSION)
    session.add(AuditLog(actor=actor, action=IMPORT, target=key,
                         after={"key": key, "grid_version": version}))
    return version


def grid_version(session: Session) -> int:
    return session.scalar(select(Counter.value).where(Counter.name == GRID_VERSION)) or 0


def current_grids(session: Session) -> tuple[int, str | None]:
    """(version, media key of the current GeoJSON); (0, None) before any import."""
    version = grid_version(session)
    if not version:
        return 0, None
    after = session.scalar(select(AuditLog.after).where(AuditLog.action == IMPORT)
                           .order_by(AuditLog.id.desc()).limit(1))
    return version, (after or {}).get("key")
