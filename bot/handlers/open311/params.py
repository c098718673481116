"""Checking an Open311 client's parameters: strings within limits, flags, W3C datetimes."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from bot.handlers.open311.render import Open311Error
from storage.text import storable

TRUE = {"true", "1", "yes", "y", "on"}
FALSE = {"false", "0", "no", "n", "off", ""}


def flatten(data: Any) -> dict[str, str]:
    """A JSON body as the form fields the spec names: ``{"attribute": {"k": v}}`` becomes
    ``attribute[k]``; numbers become text; nested values other than attributes are left out."""
    if not isinstance(data, dict):
        raise Open311Error(400, "expected form fields or a JSON object")
    fields: dict[str, str] = {}
    for key, value in data.items():
        if key == "attribute" and isinstance(value, dict):
            for name, item in value.items():
                if isinstance(item, str | int | float | bool):
                    fields[f"attribute[{name}]"] = str(item)
        elif isinstance(value, bool):
            fields[key] = "true" if value else "false"
        elif isinstance(value, str | int | float):
            fields[key] = str(value)
    return storable(fields)


def text(params: Mapping[str, str], name: str, limit: int) -> str | None:
    value = (params.get(name) or "").strip()
    if len(value) > limit:
        raise Open311Error(400, f"{name} is longer than {limit} characters")
    return value or None


def flag(value: str | None, name: str) -> bool:
    value = (value or "").strip().lower()
    if value in TRUE:
        return True
    if value in FALSE:
        return False
    raise Open311Error(400, f"{name} must be true or false, not {value!r}")


def number(params: Mapping[str, str], name: str, low: float, high: float) -> float | None:
    raw = (params.get(name) or "").strip()
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        raise Open311Error(400, f"{name} {raw!r} is not a number") from None
    if not low <= value <= high:
        raise Open311Error(400, f"{name} {raw} is out of range ({low} to {high})")
    return value


def w3(value: datetime | None) -> str | None:
    """A datetime in the spec's W3C format, UTC with Z."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if value else None


def when(params: Mapping[str, str], name: str) -> datetime | None:
    raw = (params.get(name) or "").strip()
    if not raw:
        return None
    try:
        value = datetime.fromisoformat(re.sub(r"Z$", "+00:00", raw))
    except ValueError:
        raise Open311Error(400, f"{name} {raw!r} is not a W3C datetime "
                                "(e.g. 2010-01-01T00:00:00Z)") from None
    if value.tzinfo is None:
        raise Open311Error(400, f"{name} {raw!r} needs its time zone (Z or +08:00)")
    return value.astimezone(UTC)
