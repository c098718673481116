"""Open311 GeoReport v2 as the platform sees our cases: the service code of a class, the form
fields of a new service request, and the request id (or token) kept on the case."""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any

import yaml

from storage.models import Case

TOKEN_PREFIX = "token:"  # Case.external_id holds "token:<t>" until the token is resolved


@cache
def _service_map() -> dict[str, Any]:
    text = resources.files("cases").joinpath("data", "open311_services.yaml").read_text("utf-8")
    return yaml.safe_load(text)


def service_code(label: str, kind: str | None, major: str | None, minor: str | None) -> str:
    mapping = _service_map()
    if label in (mapping.get("by_label") or {}):
        return str(mapping["by_label"][label])
    if kind and major and f"{kind}:{major}" in (mapping.get("by_major") or {}):
        return str(mapping["by_major"][f"{kind}:{major}"])
    return str(mapping["pattern"]).format(kind=kind or "none", major=major or "", minor=minor or "")


def request_fields(document: dict[str, Any]) -> dict[str, str]:
    """The form fields of POST requests.json for one case document (no key or jurisdiction)."""
    category = document["category"]
    fields = {
        "service_code": service_code(document["label"], category["kind"], category["major"],
                                     category["minor"]),
        "description": document["text"][:4000],
        "attribute[case_number]": document["number"],
        "attribute[label]": document["label"],
    }
    point = document["location"]["wgs84"]
    if point:
        fields["lat"], fields["long"] = f"{point['lat']:.7f}", f"{point['lon']:.7f}"
    if document.get("place_text"):
        fields["address_string"] = document["place_text"]
    if document["photos"]:
        fields["media_url"] = document["photos"][0]
    for key in ("kind", "major", "minor"):
        if category[key]:
            fields[f"attribute[{key}]"] = category[key]
    if document["grid"]["code"]:
        fields["attribute[grid_code]"] = document["grid"]["code"]
    reporter = document["reporter"]
    if reporter["consent"] and reporter["phone"]:
        fields["phone"] = reporter["phone"]
    return fields


def record_result(case: Case, result: dict[str, str]) -> None:
    """Keep the platform's id on the case (or the token until it is resolved)."""
    if result.get("service_request_id"):
        case.external_id = result["service_request_id"]
    elif result.get("token"):
        case.external_id = TOKEN_PREFIX + result["token"]
