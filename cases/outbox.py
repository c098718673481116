"""Write deliveries into the outbox, inside the caller's transaction (the cause and its deliveries
commit together or not at all); and what a sender (a platform sink, a channel's outbound side)
returns or raises, so the worker knows what to do next."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.models import Outbox, utcnow
from storage.states import OutboxStatus

PLATFORM_SINKS = ("webhook", "open311", "noop")
RESIDENT_SINKS = ("telegram", "sms", "generic_sms", "wechat", "aliyun_sms", "tencent_sms")
# (runtime, row) -> a small result dict stored on the row, or None; failures raise one of below.
Sender = Callable[[Any, Outbox], dict | None]


class RetryableError(Exception):
    """Try again later (timeouts, 5xx, rate limits)."""


class PermanentError(Exception):
    """Retrying cannot help (4xx, a malformed payload): the row is dead-lettered at once."""


class RecipientUnreachable(Exception):
    """The resident refuses our messages (bot blocked, SMS STOP): mark them and stop sending."""


def enqueue(session: Session, *, sink: str, key: str, payload: Any, target: str | None = None,
            case_id: int | None = None) -> Outbox:
    """One delivery per idempotency key: asking twice for the same key returns the first row."""
    existing = session.scalar(select(Outbox).where(Outbox.idempotency_key == key))
    if existing is not None:
        return existing
    row = Outbox(sink=sink, target=target, case_id=case_id, payload=payload, idempotency_key=key,
                 status=OutboxStatus.PENDING, attempts=0, next_attempt_at=utcnow())
    session.add(row)
    return row


def row_to_json(row: Outbox) -> dict[str, Any]:
    def iso(value):
        return value.isoformat() if value else None

    return {
        "id": row.id,
        "sink": row.sink,
        "target": row.target,
        "case_id": row.case_id,
        "idempotency_key": row.idempotency_key,
        "status": row.status,
        "attempts": row.attempts,
        "next_attempt_at": iso(row.next_attempt_at),
        "last_error": row.last_error,
        "result": row.result,
        "created_at": iso(row.created_at),
        "delivered_at": iso(row.delivered_at),
        "payload": row.payload,
    }
