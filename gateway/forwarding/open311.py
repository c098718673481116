"""Open311 GeoReport v2 client: create service requests for cases and poll their status."""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any

import httpx
import yaml

from gateway.forwarding.senders import PermanentError, RetryableError
from gateway.forwarding.webhook import raise_for_status
from storage.models import Case, Outbox

TOKEN_PREFIX = "token:"  # Case.external_id holds "token:<t>" until the token is resolved


@cache
def _service_map() -> dict[str, Any]:
    text = resources.files("gateway.forwarding").joinpath("open311_services.yaml").read_text("utf-8")
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


class Open311Client:
    def __init__(self, endpoint: str, jurisdiction: str, api_key: str | None,
                 client: httpx.Client) -> None:
        self.endpoint = endpoint.rstrip("/")
        self.jurisdiction = jurisdiction
        self.api_key = api_key
        self.client = client

    def _common(self) -> dict[str, str]:
        return {"jurisdiction_id": self.jurisdiction} if self.jurisdiction else {}

    def _call(self, method: str, path: str, **kwargs) -> Any:
        try:
            response = self.client.request(method, f"{self.endpoint}/{path}", **kwargs)
        except httpx.HTTPError as exc:
            raise RetryableError(f"open311: {type(exc).__name__}: {exc}") from None
        raise_for_status(response, "open311")
        try:
            return response.json()
        except ValueError:
            raise RetryableError(f"open311 {path}: answer is not JSON") from None

    def create(self, fields: dict[str, str]) -> dict[str, str]:
        data = {**self._common(), **fields}
        if self.api_key:
            data["api_key"] = self.api_key
        answer = self._call("POST", "requests.json", data=data)
        first = answer[0] if isinstance(answer, list) and answer else {}
        if first.get("service_request_id"):
            return {"service_request_id": str(first["service_request_id"])}
        if first.get("token"):
            return {"token": str(first["token"])}
        raise PermanentError(f"open311 requests.json: no service_request_id or token in {answer!r}")

    def resolve_token(self, token: str) -> str | None:
        answer = self._call("GET", f"tokens/{token}.json", params=self._common())
        first = answer[0] if isinstance(answer, list) and answer else {}
        return str(first["service_request_id"]) if first.get("service_request_id") else None

    def statuses(self, request_ids: list[str]) -> list[dict[str, Any]]:
        params = {**self._common(), "service_request_id": ",".join(request_ids)}
        answer = self._call("GET", "requests.json", params=params)
        return answer if isinstance(answer, list) else []


class Open311Sink:
    def __init__(self, client: Open311Client | None) -> None:
        self.client = client

    def __call__(self, runtime: Any, row: Outbox) -> dict | None:
        if self.client is None:
            raise RetryableError("forwarding.open311_endpoint is not configured")
        return self.client.create(row.payload["fields"])


def record_result(case: Case, result: dict[str, str]) -> None:
    """Keep the platform's id on the case (or the token until it is resolved)."""
    if result.get("service_request_id"):
        case.external_id = result["service_request_id"]
    elif result.get("token"):
        case.external_id = TOKEN_PREFIX + result["token"]
