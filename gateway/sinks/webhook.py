"""Signed JSON webhook sink: the platform receives case documents and notices, each once per key."""

from __future__ import annotations

import json
from typing import Any

import httpx

from bot.signing import HEADER, signature
from cases.outbox import RetryableError
from gateway.sinks.base import Sink, raise_for_status
from storage.models import Outbox


def body_bytes(row: Outbox) -> bytes:
    """The same bytes on every attempt, so a receiver can compare re-deliveries."""
    body = {**row.payload, "idempotency_key": row.idempotency_key}
    return json.dumps(body, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


class WebhookSink(Sink):
    name = "webhook"

    def __init__(self, url: str, secret: str | None, client: httpx.Client) -> None:
        self.url = url
        self.secret = secret
        self.client = client

    def __call__(self, runtime: Any, row: Outbox) -> dict | None:
        if not self.url:
            raise RetryableError("forwarding.webhook_url is not configured (GRIDINTAKE_WEBHOOK_URL)")
        body = body_bytes(row)
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "Idempotency-Key": row.idempotency_key,
            "X-Gridintake-Event": str(row.payload.get("type", "")),
        }
        if self.secret:
            headers[HEADER] = signature(self.secret, body)
        try:
            response = self.client.post(self.url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise RetryableError(f"webhook: {type(exc).__name__}: {exc}") from None
        raise_for_status(response, "webhook")
        return {"http_status": response.status_code}
