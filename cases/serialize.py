"""Cases as JSON documents for the CLI and the HTTP API."""

from __future__ import annotations

from typing import Any

from categories import NONE_LABEL
from categories.crosswalk import map_label
from categories.tree import edition_of
from storage.models import Case, CaseEvent


def _iso(value) -> str | None:
    return value.isoformat() if value else None


def event_to_json(event: CaseEvent) -> dict[str, Any]:
    return {
        "status": event.status,
        "note": event.note,
        "department": event.department,
        "photo_url": event.photo_url,
        "actor": event.actor,
        "data": event.data or {},
        "at": _iso(event.created_at),
    }


def case_to_json(case: Case, with_events: bool = True, edition: str | None = None) -> dict[str, Any]:
    """A case as JSON; given the active catalogue ``edition``, a case filed in another one keeps
    its label and shows the mapped ones (``mapped_labels``, best first; [] without a counterpart)."""
    classification = (case.evidence or {}).get("classification") or {}
    data: dict[str, Any] = {
        "number": case.number,
        "label": case.label,
        "kind": case.kind,
        "major": case.major,
        "minor": case.minor,
        "category_name": case.category_name,
        "confidence": round(case.confidence, 4),
        "urgent": case.urgent,
        "text": case.text,
        "place_text": case.place_text,
        "lat": case.lat,
        "lon": case.lon,
        "location_source": case.location_source,
        "grid_code": case.grid_code,
        "district": case.district,
        "street": case.street,
        "community": case.community,
        "status": case.status,
        "channel": case.channel,
        "language": case.language,
        "phones": classification.get("phones", []),
        "duplicate_of": case.duplicate_of.number if case.duplicate_of else None,
        "due_at": _iso(case.due_at),
        "overdue": case.overdue,
        "rating": case.rating,
        "created_at": _iso(case.created_at),
        "updated_at": _iso(case.updated_at),
        "attachments": [
            {"sha256": a.sha256, "mime": a.mime, "size": a.size} for a in case.attachments
        ],
        "top": classification.get("top", []),
    }
    if edition is not None and case.label != NONE_LABEL and edition_of(case.label) != edition:
        data["mapped_labels"] = map_label(case.label, edition)
    if with_events:
        data["events"] = [event_to_json(e) for e in case.events]
    return data
