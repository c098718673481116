"""Where a reporter is in the reporting flow, kept server-side.

Every message reads and most messages change this row, so it is read with the message's first
query and written back with one plain statement, not through the ORM's unit of work (which costs
more than the row itself).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Row, bindparam, insert, update
from sqlalchemy.orm import Session

from storage.models import Conversation, utcnow

TABLE = Conversation.__table__
# Selected beside other tables: labelled so a row names them apart.
COLUMNS = tuple(c.label(f"conversation_{c.name}")
                for c in (TABLE.c.id, TABLE.c.state, TABLE.c.slots, TABLE.c.updated_at))
_INSERT = insert(TABLE).returning(TABLE.c.id)
_UPDATE = update(TABLE).where(TABLE.c.id == bindparam("conversation"))


@dataclass
class ConversationState:
    reporter_id: int
    id: int | None = None  # None until first saved
    state: str = "idle"
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

    def save(self, session: Session) -> None:
        """Insert a new conversation; update one only when its state or slots changed, so the
        idle clock (`updated_at`) runs on for messages that move nothing."""
        if self.id is not None and (self.state, self.slots) == self._saved:
            return
        self.updated_at = utcnow()
        values = {"state": self.state, "slots": self.slots, "updated_at": self.updated_at}
        if self.id is None:
            self.id = session.execute(_INSERT, {**values, "reporter_id": self.reporter_id}).scalar_one()
        else:
            session.execute(_UPDATE, {**values, "conversation": self.id})
        self._saved = (self.state, self.slots)
