"""Where a reporter is in the reporting flow, kept server-side (the engine's `Turn` holds it).

Every message reads and most messages change this row, so it is read with the message's first
query and written back with plain statements, not through the ORM's unit of work (which costs
more than the row itself); on PostgreSQL the write rides along another write of the message's
transaction, in its round trip.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import Row, Update, bindparam, insert, update
from sqlalchemy.orm import Session

from storage.models import Conversation, utcnow
from storage.states import DialogState

TABLE = Conversation.__table__
# Selected beside other tables: labelled so a row names them apart.
COLUMNS = tuple(c.label(f"conversation_{c.name}")
                for c in (TABLE.c.id, TABLE.c.state, TABLE.c.slots, TABLE.c.updated_at))
_VALUES = {name: bindparam(f"conversation_{name}") for name in ("state", "slots", "updated_at")}
_WRITES = {
    "insert": insert(TABLE).values(reporter_id=bindparam("conversation_reporter_id"), **_VALUES),
    "update": update(TABLE).where(TABLE.c.id == bindparam("conversation_id")).values(**_VALUES),
}


@cache
def _riding(statement: Update, kind: str) -> Update:
    """``statement`` with the conversation's write as a data-modifying WITH (PostgreSQL)."""
    return statement.add_cte(_WRITES[kind].cte(f"conversation_{kind}"))


@dataclass
class ConversationState:
    reporter_id: int
    id: int | None = None  # None until first saved
    state: DialogState = DialogState.IDLE
    slots: dict[str, Any] = field(default_factory=dict)
    updated_at: datetime = field(default_factory=utcnow)

    @classmethod
    def from_row(cls, reporter_id: int, row: Row) -> ConversationState:
        """From a row with `COLUMNS`; a new one when the reporter has none yet."""
        if row.conversation_id is None:
            return cls(reporter_id)
        return cls(reporter_id, row.conversation_id, row.conversation_state,
                   row.conversation_slots, row.conversation_updated_at)

    def __post_init__(self) -> None:
        self._saved = (self.state, self.slots)

    def save(self, session: Session, then: Update, params: dict[str, Any]) -> None:
        """Run ``then`` (another write of the message's transaction) and write the conversation
        if its state or slots changed: on PostgreSQL in one round trip, elsewhere one after the
        other. An unchanged conversation is not written, so its idle clock runs on."""
        conn = session.connection()
        if self.id is not None and (self.state, self.slots) == self._saved:
            conn.execute(then, params)
            return
        kind = "insert" if self.id is None else "update"
        self.updated_at = utcnow()
        values = {"conversation_id": self.id, "conversation_reporter_id": self.reporter_id,
                  "conversation_state": self.state, "conversation_slots": self.slots,
                  "conversation_updated_at": self.updated_at}
        if conn.dialect.name == "postgresql":
            conn.execute(_riding(then, kind), {**params, **values})
        else:
            conn.execute(_WRITES[kind], values)
            conn.execute(then, params)
        self._saved = (self.state, self.slots)
