"""Store every inbound message before processing it; recognise replays by idempotency key."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from bot.i18n import t
from bot.types import Inbound, Photo, Reply
from storage import turns
from storage.db import autocommit_twin, transaction
from storage.models import InboundMessage, utcnow
from storage.states import ANSWERED, InboundStatus


@dataclass(frozen=True)
class Refusal:
    """Why a message is answered without being processed, and the answer."""

    reason: str
    replies: list[Reply]

    @classmethod
    def rate_limited(cls, lang: str) -> Refusal:
        return cls("rate limited", [Reply(t("rate_limited", lang))])


@dataclass(frozen=True)
class Recorded:
    id: int
    previous_replies: list[Reply] | None  # set when this key was already processed


def envelope(inbound: Inbound, photo_path: str | None) -> dict[str, Any]:
    """What is needed to process the message again later, plus the raw payload untouched."""
    return {
        "raw": inbound.payload,
        "text": inbound.text,
        "location": list(inbound.location) if inbound.location else None,
        "photo_path": photo_path,
        "photo_mime": inbound.photo.declared_mime if inbound.photo else None,
        "phone": inbound.phone,
        "language": inbound.language,
        "display_name": inbound.display_name,
    }


def inbound_from_row(row: InboundMessage) -> Inbound:
    env = row.payload or {}
    photo = None
    if env.get("photo_path"):
        photo = Photo(Path(env["photo_path"]).read_bytes(), env.get("photo_mime"))
    location = env.get("location")
    return Inbound(
        channel=row.channel, sender=row.sender, key=row.idempotency_key, text=env.get("text"),
        location=tuple(location) if location else None, photo=photo, phone=env.get("phone"),
        language=env.get("language"), display_name=env.get("display_name"),
        payload=env.get("raw") or {},
    )


class Inbox:
    def __init__(self, factory: sessionmaker[Session], raw_dir: Path) -> None:
        self.factory = factory
        self.raw_dir = raw_dir
        self._writer = autocommit_twin(factory.kw["bind"])  # the insert commits itself

    def _keep_photo_bytes(self, photo: Photo) -> str:
        digest = hashlib.sha256(photo.data).hexdigest()
        self.raw_dir.mkdir(parents=True, exist_ok=True)
        path = self.raw_dir / f"{digest}.bin"
        if not path.exists():
            tmp = path.with_suffix(".tmp")
            tmp.write_bytes(photo.data)
            tmp.replace(path)
        return str(path)

    def _existing(self, session: Session, inbound: Inbound) -> InboundMessage | None:
        return session.scalar(
            select(InboundMessage).where(
                InboundMessage.channel == inbound.channel,
                InboundMessage.idempotency_key == inbound.key,
            )
        )

    def record(self, inbound: Inbound, refusal: Refusal | None = None) -> Recorded:
        """Commit the raw message (its own transaction), or find the earlier copy of a replay.
        Insert first: a replay is rare, so the unique key finds it instead of a lookup per message.
        A refused message (over the rate limit) is kept already answered, so it is never retried."""
        photo_path = self._keep_photo_bytes(inbound.photo) if inbound.photo else None
        values = {"channel": inbound.channel, "idempotency_key": inbound.key,
                  "sender": inbound.sender, "kind": inbound.kind, "text": inbound.text,
                  "payload": envelope(inbound, photo_path)}
        if refusal is not None:
            values |= {"status": InboundStatus.REJECTED, "error": refusal.reason, "processed_at": utcnow(),
                       "replies": [r.to_json() for r in refusal.replies]}
        try:
            with self._writer.connect() as conn:
                return Recorded(turns.insert_inbound(conn, values), None)
        except IntegrityError:  # the same key raced in from a concurrent retry
            with transaction(self.factory) as session:
                return self._recorded(self._existing(session, inbound))

    @staticmethod
    def _recorded(row: InboundMessage) -> Recorded:
        if row.status in ANSWERED:
            return Recorded(row.id, [Reply.from_json(r) for r in row.replies or []])
        return Recorded(row.id, None)
