"""A provider's delivery receipt (状态报告) onto the outbox row it reports on: the handset's
state kept in the row's result, and a failed delivery dead-lettered with the provider's code, so
administrators see it where they see every failed delivery (case page, `outbox list`)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.models import Outbox
from storage.states import OutboxStatus


@dataclass(frozen=True)
class Receipt:
    row_id: int | None  # ours, when the provider echoes it (Aliyun's out_id)
    provider_id: str | None  # the provider's message id (Aliyun biz_id, Tencent sid)
    delivered: bool
    code: str
    description: str
    at: str | None


def apply(session: Session, sink: str, id_field: str, receipt: Receipt) -> bool:
    """False when no row of ``sink`` matches (a receipt for a message sent by something else)."""
    row = session.get(Outbox, receipt.row_id) if receipt.row_id is not None else None
    if (row is None or row.sink != sink) and receipt.provider_id:
        row = session.scalar(select(Outbox).where(
            Outbox.sink == sink, Outbox.result[id_field].as_string() == receipt.provider_id))
    if row is None or row.sink != sink:
        return False
    row.result = {**(row.result or {}), "delivery": {
        "state": "delivered" if receipt.delivered else "failed", "code": receipt.code,
        "description": receipt.description, "at": receipt.at}}
    if not receipt.delivered:
        row.status = OutboxStatus.DEAD
        row.last_error = f"not delivered to the handset: {receipt.code} {receipt.description}".strip()
    return True
