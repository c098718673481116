"""The case as the city platform receives it (webhook body); shape documented in case.schema.json."""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import cache
from importlib import resources
from typing import Any

from cases.pii import mask_personal_data
from categories import CategoryTree
from geo.coords import wgs84_to_gcj02
from storage.models import Case

SCHEMA_VERSION = 1


@cache
def case_schema() -> dict[str, Any]:
    return json.loads(resources.files("cases").joinpath("data", "case.schema.json").read_text("utf-8"))


def mask_phone(phone: str | None) -> str | None:
    """Keep the first 3 and last 4 digits: enough for staff to recognise, not to call."""
    if not phone:
        return None
    if len(phone) <= 7:
        return "*" * len(phone)
    return phone[:3] + "*" * (len(phone) - 7) + phone[-4:]


def _iso(value) -> str | None:
    return value.isoformat() if value else None


def photo_urls(case: Case, photo_url: Callable[[str], str] | None) -> list[str]:
    """Every photo of the case as an absolute link the platform can fetch (see media_links)."""
    return [photo_url(a.sha256) for a in case.attachments] if photo_url else []


def _routing(case: Case, department: str) -> dict[str, Any]:
    """部件属主 (components go to their owner) / 事件属地 (events go to the grid's street)."""
    if case.kind == "component":
        return {"principle": "owner", "department": department or None,
                "street": case.street, "community": case.community}
    return {"principle": "territory", "department": department or None,
            "street": case.street, "community": case.community}


def _contact(case: Case) -> dict[str, Any]:
    reporter = case.reporter
    consent = bool(reporter and reporter.consent_contact)
    phone = case.contact_phone or (reporter.phone if reporter else None)
    return {
        "consent": consent,
        "name": reporter.display_name if consent and reporter else None,
        "phone": phone if consent else mask_phone(phone),
        "channel": case.channel,
    }


def case_document(case: Case, tree: CategoryTree, photo_url: Callable[[str], str] | None = None,
                  mask: bool = True) -> dict[str, Any]:
    """`mask`: phone, ID card and plate numbers in the resident's words are masked (cases/pii.py);
    the case keeps them as typed for authorised staff."""
    category = tree.get(case.label)
    department = category.department if category else ""
    wgs84 = gcj02 = None
    if case.lat is not None and case.lon is not None:
        wgs84 = {"lat": case.lat, "lon": case.lon}
        glat, glon = wgs84_to_gcj02(case.lat, case.lon)
        gcj02 = {"lat": round(glat, 7), "lon": round(glon, 7)}
    return {
        "schema_version": SCHEMA_VERSION,
        "number": case.number,
        "label": case.label,
        "category": {
            "kind": case.kind,
            "major": case.major,
            "minor": case.minor,
            "major_name_zh": category.major_name_zh if category else None,
            "name_zh": category.name_zh if category else case.category_name or None,
            "name_en": category.name_en if category else None,
        },
        "urgent": case.urgent,
        "text": mask_personal_data(case.text) if mask else case.text,
        "place_text": case.place_text,
        "location": {"wgs84": wgs84, "gcj02": gcj02, "source": case.location_source},
        "grid": {"code": case.grid_code, "district": case.district, "street": case.street,
                 "community": case.community},
        "routing": _routing(case, department),
        "time_limit_hours": category.time_limit_hours if category else None,
        "due_at": _iso(case.due_at),
        "photos": photo_urls(case, photo_url),
        "reporter": _contact(case),
        "status": case.status,
        "duplicate_of": case.duplicate_of.number if case.duplicate_of else None,
        "language": case.language,
        "created_at": _iso(case.created_at),
    }
