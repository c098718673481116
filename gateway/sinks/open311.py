"""Open311 GeoReport v2 client: create service requests for cases and poll their status."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy.orm import Session

from cases.open311 import record_result
from cases.outbox import PermanentError, RetryableError
from gateway.sinks.base import Sink, raise_for_status
from storage.models import Case, Outbox


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


class Open311Sink(Sink):
    name = "open311"

    def __init__(self, client: Open311Client | None) -> None:
        self.client = client

    def __call__(self, runtime: Any, row: Outbox) -> dict | None:
        if self.client is None:
            raise RetryableError("forwarding.open311_endpoint is not configured")
        return self.client.create(row.payload["fields"])

    def delivered(self, session: Session, row: Outbox, result: dict | None) -> None:
        """The platform's request id (or token) goes on the case, for the status poll."""
        case = session.get(Case, row.case_id) if result and row.case_id else None
        if case is not None:
            record_result(case, result)
