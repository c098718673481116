"""The statements every inbound message runs, built once.

Building a statement costs as much as running it, and the ORM's unit of work costs more than
these rows, so they are Core statements on the session's connection. The engine calls the three
functions below and never sees the SQL.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Row, bindparam, insert, select, update
from sqlalchemy.orm import Session

from storage import conversations
from storage.conversations import ConversationState
from storage.models import InboundMessage, Reporter, utcnow
from storage.states import InboundStatus

_INBOUND = InboundMessage.__table__
_INSERT = insert(_INBOUND).returning(_INBOUND.c.id)
# Only the inbound row is locked: after waiting on a concurrent run of the same message the
# status tells that it was processed, and a run that rolled back changed neither the reporter
# nor the conversation. The row's status and replies are read back, the row is not loaded.
_LOCK_INBOUND_AND_SENDER = (
    select(_INBOUND.c.status, _INBOUND.c.replies, Reporter, *conversations.COLUMNS)
    .select_from(_INBOUND)
    .outerjoin(Reporter, (Reporter.channel == bindparam("channel"))
               & (Reporter.channel_user_id == bindparam("sender")))
    .outerjoin(conversations.TABLE, conversations.TABLE.c.reporter_id == Reporter.id)
    .where(_INBOUND.c.id == bindparam("row"))
    .with_for_update(of=_INBOUND))
# Its parameters are named apart from the conversation's columns: on PostgreSQL the
# conversation's write rides along this statement, and a key named like one of its columns
# would be set there too.
_FINISH_INBOUND = update(_INBOUND).where(_INBOUND.c.id == bindparam("row")).values(
    reporter_id=bindparam("reporter"), status=bindparam("status"),
    replies=bindparam("replies"), processed_at=bindparam("processed_at"))


def insert_inbound(conn: Connection, values: dict[str, Any]) -> int:
    """Insert a raw message; its id. A replay breaks the unique key (IntegrityError)."""
    return conn.execute(_INSERT, values).scalar_one()


def lock_inbound_and_sender(session: Session, row: int, channel: str, sender: str) -> Row:
    """Lock the inbound row and read its status and replies, the sender's `Reporter` (None
    before their first message) and their conversation (`ConversationState.from_row`)."""
    return session.execute(_LOCK_INBOUND_AND_SENDER,
                           {"row": row, "channel": channel, "sender": sender}).one()


def finish_inbound(session: Session, conv: ConversationState, row: int, reporter_id: int,
                   status: InboundStatus, replies: list[dict]) -> None:
    """Mark the message handled with its replies, and write the conversation if it changed."""
    conv.save(session, _FINISH_INBOUND, {"row": row, "reporter": reporter_id, "status": status,
                                         "replies": replies, "processed_at": utcnow()})
