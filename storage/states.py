"""Every state and status the database stores, as StrEnums: one vocabulary for every package.

The stored values are the same strings as before (no migration); a column typed
``EnumText(X)`` reads back members of ``X``, and a member compares equal to its string. The case
status's allowed transitions are `cases.status.TRANSITIONS`; the conversation's are the
engine's state table (`bot/engine.py`); the two small ones below are in their docstrings.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from sqlalchemy import String, TypeDecorator


class DialogState(StrEnum):
    """Where a reporter is in the reporting flow (`Conversation.state`)."""

    IDLE = "idle"  # nothing in progress
    ASK_PROBLEM = "ask_problem"  # a pin or photo came first: waiting for the words
    DESCRIBED = "described"  # classified, on the way to a place
    CHOOSE = "choose"  # unsure of the class: waiting for a pick among the top 3
    AWAIT_PLACE = "await_place"  # waiting for a place (words or a pin)
    CONFIRM_PLACE = "confirm_place"  # an uncertain place found: waiting for yes or another place
    CONFIRM = "confirm"  # waiting for submit / cancel (or a corrected place)
    RATING = "rating"  # a case was closed: waiting for 1–5 (set by `cases.notices`)


class InboundStatus(StrEnum):
    """An inbound message's processing (`InboundMessage.status`).

    Chat channels: received → processed | rejected (bad input or over the rate limit, answered)
    | failed (an error; `inbound retry` takes received and failed again). Hotline calls are
    filed, not chatted: received | held → processing (claimed) → processed | held (filing failed;
    filed again when the call id comes again, never by the chat retry). An update the channel's
    library cannot read is kept raw as unparseable (never processed; `inbound list --failed`).
    """

    RECEIVED = "received"
    PROCESSED = "processed"
    REJECTED = "rejected"
    FAILED = "failed"
    PROCESSING = "processing"
    HELD = "held"
    UNPARSEABLE = "unparseable"


ANSWERED = (InboundStatus.PROCESSED, InboundStatus.REJECTED)  # a replay gets the stored replies


class CaseStatus(StrEnum):
    """A case's status (`Case.status`); the allowed transitions are `cases.status.TRANSITIONS`."""

    ACCEPTED = "accepted"  # filed with a grid cell
    NEEDS_LOCATION = "needs_location"  # filed without a place in the city
    FILED = "filed"  # the platform registered it
    DISPATCHED = "dispatched"
    IN_PROGRESS = "in_progress"
    HANDLED = "handled"
    VERIFIED = "verified"
    CLOSED = "closed"
    REJECTED = "rejected"
    REOPENED = "reopened"


class OutboxStatus(StrEnum):
    """A delivery's status (`Outbox.status`): pending → done | dead; `outbox retry` takes a dead
    (or pending) row back to pending.

    While a row is claimed, `Outbox.locked_by` names the worker; a resident's row being sent
    right now carries the worker's name plus `IN_FLIGHT` (committed before the send), so a
    worker that died mid-send leaves a row that is dead-lettered "in doubt", never sent twice.
    """

    PENDING = "pending"
    DONE = "done"
    DEAD = "dead"


IN_FLIGHT = "#sending"  # suffix of Outbox.locked_by: see OutboxStatus


class EnumText(TypeDecorator[StrEnum]):
    """A StrEnum stored as its string value in a VARCHAR column (no database enum type, so
    adding a member needs no migration)."""

    impl = String
    cache_ok = True

    def __init__(self, enum: type[StrEnum], length: int) -> None:
        super().__init__(length)
        self.enum = enum

    def process_bind_param(self, value: Any, dialect: Any) -> str | None:
        return None if value is None else self.enum(value).value

    def process_result_value(self, value: str | None, dialect: Any) -> StrEnum | None:
        return None if value is None else self.enum(value)
