"""Store every inbound message before processing it; recognise replays by idempotency key."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from bot.i18n import t
from bot.types import Inbound, Photo, Reply
from storage import turns
from storage.db import autocommit_twin, transaction
from storage.media import MediaStore
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


def envelope(inbound: Inbound, photo_key: str | None) -> dict[str, Any]:
    """What is needed to process the message again later, plus the raw payload untouched."""
    return {
        "raw": inbound.payload,
        "text": inbound.text,
        "location": list(inbound.location) if inbound.location else None,
        "photo_key": photo_key,
        "photo_mime": inbound.photo.declared_mime if inbound.photo else None,
        "phone": inbound.phone,
        "language": inbound.language,
        "display_name": inbound.display_name,
    }


def inbound_from_row(row: InboundMessage, media: MediaStore) -> Inbound:
    """The message as it came in, its photo read back from the media store (any host's)."""
    env = row.payload or {}
    photo = None
    if env.get("photo_key"):
        photo = Photo(media.get(env["photo_key"]) or b"", env.get("photo_mime"))
    location = env.get("location")
    return Inbound(
        channel=row.channel, sender=row.sender, key=row.idempotency_key, text=env.get("text"),
        location=tuple(location) if location else None, photo=photo, phone=env.get("phone"),
        language=env.get("language"), display_name=env.get("display_name"),
        payload=env.get("raw") or {},
    )


class Inbox:
    def __init__(self, factory: sessionmaker[Session], media: MediaStore) -> None:
        self.factory = factory
        self.media = media
        self._writer = autocommit_twin(factory.kw["bind"])  # the insert commits itself

    def _keep_photo_bytes(self, photo: Photo) -> str:
        """Raw bytes in the shared store before the row that names them: a retry on any host
        finds them."""
        key = f"inbox/{hashlib.sha256(photo.data).hexdigest()}.bin"
        if not self.media.exists(key):
            self.media.put(key, photo.data)
        return key

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
        photo_key = self._keep_photo_bytes(inbound.photo) if inbound.photo else None
        values = {"channel": inbound.channel, "idempotency_key": inbound.key,
                  "sender": inbound.sender, "kind": inbound.kind, "text": inbound.text,
                  "payload": envelope(inbound, photo_key)}
        if refusal is not None:
            values |= {"status": InboundStatus.REJECTED, "error": refusal.reason, "processed_at": utcnow(),
                       "replies": [r.to_json() for r in refusal.replies]}
        try:
            with self._writer.connect() as conn:
                return Recorded(turns.insert_inbound(conn, values), None)
        except IntegrityError:  # the same key raced in from a concurrent retry
            with transaction(self.factory) as session:
                return self._recorded(self._existing(session, inbound))

    def keep_unparseable(self, channel: str, key: str, sender: str, raw: Any, error: str) -> None:
        """Keep an update the channel's library cannot read, exactly as it came, so the updates
        after it go on; a replay of the same update is ignored."""
        values = {"channel": channel, "idempotency_key": key, "sender": sender, "kind": "update",
                  "payload": {"raw": raw}, "status": InboundStatus.UNPARSEABLE, "error": error}
        try:
            with self._writer.connect() as conn:
                turns.insert_inbound(conn, values)
        except IntegrityError:
            pass

    @staticmethod
    def _recorded(row: InboundMessage) -> Recorded:
        if row.status in ANSWERED:
            return Recorded(row.id, [Reply.from_json(r) for r in row.replies or []])
        return Recorded(row.id, None)


# ---- filed channels (hotline calls, Open311 requests): one case per message ------------------

# Their messages are filed, not chatted: the chat engine's retry leaves them alone.
FILED_CHANNELS = ("hotline", "open311")
STALE_CLAIM = timedelta(minutes=2)  # a claim older than this belonged to a crashed filing
# held: filing failed; kept out of the chat engine's retry, filed again when the key comes again.
CLAIMABLE = (InboundStatus.RECEIVED, InboundStatus.HELD)


class InProgress(Exception):
    """The same key is being filed right now by another request."""


def claim_for_filing(factory: sessionmaker[Session], row_id: int) -> dict[str, Any] | None:
    """Take a filed channel's row for filing (None); its stored answer (the first reply: the
    ``case_number`` it filed, or what else the channel keeps) when it was answered already.
    Raises InProgress while another request holds a fresh claim on it."""
    now = utcnow()
    with transaction(factory) as session:
        claimed = session.execute(
            update(InboundMessage)
            .where(InboundMessage.id == row_id, or_(
                InboundMessage.status.in_(CLAIMABLE),
                (InboundMessage.status == InboundStatus.PROCESSING)
                & (InboundMessage.processed_at < now - STALE_CLAIM)))
            .values(status=InboundStatus.PROCESSING, processed_at=now)
        ).rowcount
        if claimed:
            return None
        row = session.get(InboundMessage, row_id)
        replies = row.replies or []
        if row.status == InboundStatus.PROCESSED and replies:
            return replies[0]
    raise InProgress(f"{row.channel} {row.idempotency_key} is being filed right now")


def hold(factory: sessionmaker[Session], row_id: int, exc: BaseException) -> None:
    """Filing failed: keep the row held with the error, to be filed again when the key comes."""
    with transaction(factory) as session:
        row = session.get(InboundMessage, row_id)
        row.status, row.error = InboundStatus.HELD, f"{type(exc).__name__}: {exc}"
