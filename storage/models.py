"""The database schema. Every table that the product needs is here so that migrations stay linear."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from storage.states import CaseStatus, DialogState, EnumText, InboundStatus, OutboxStatus


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every backend (SQLite stores no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


JSONType = JSON().with_variant(JSONB(), "postgresql")

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


# Predicates of the partial indexes, in SQL both backends read; the queries repeat them so that
# the planner can use the index (cases/overdue.py, gateway/admin/review.py).
OPEN_DUE = ("due_at IS NOT NULL AND overdue = false AND duplicate_of_id IS NULL"
            " AND status NOT IN ('closed', 'rejected')")
IN_REVIEW = "needs_review = true OR (corrected = true AND label_before_review IS NULL)"


def partial_index(name: str, *columns: str, where: str) -> Index:
    """An index of the rows matching `where` only, on PostgreSQL and SQLite alike."""
    return Index(name, *columns, postgresql_where=text(where), sqlite_where=text(where))


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Reporter(Base):
    """A resident as one channel knows them (a Telegram user, a phone number, a hotline caller)."""

    __tablename__ = "reporter"
    __table_args__ = (UniqueConstraint("channel", "channel_user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(20))
    channel_user_id: Mapped[str] = mapped_column(String(120))
    phone: Mapped[str | None] = mapped_column(String(32), index=True)  # SMS opt-out look-ups
    language: Mapped[str] = mapped_column(String(8), default="zh")
    display_name: Mapped[str | None] = mapped_column(String(120))
    consent_contact: Mapped[bool] = mapped_column(Boolean, default=True)
    # The channel refuses our messages (Telegram: bot blocked; SMS: STOP). Nothing is sent then.
    unreachable: Mapped[bool] = mapped_column(Boolean, default=False)
    # The person behind this identity when they linked it to others (cases/residents.py).
    resident_id: Mapped[int | None] = mapped_column(ForeignKey("resident.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Resident(Base):
    """One person behind several channel identities (`Reporter.resident_id`: a phone, a Telegram
    chat, a WeChat openid …), linked only with proof of owning both ends (cases/residents.py).
    Each identity keeps its own opt-out; language and consent are copied to all of them."""

    __tablename__ = "resident"

    id: Mapped[int] = mapped_column(primary_key=True)
    language: Mapped[str | None] = mapped_column(String(8))
    consent_contact: Mapped[bool | None] = mapped_column(Boolean)
    # The channel notices go to when the resident chose one; None: the one they used last.
    notify_channel: Mapped[str | None] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class LinkCode(Base):
    """A one-time code sent by SMS to a phone and typed back on another channel: the proof that
    whoever asks (``reporter_id``) also holds that phone (``target_id``)."""

    __tablename__ = "link_code"

    id: Mapped[int] = mapped_column(primary_key=True)
    reporter_id: Mapped[int] = mapped_column(ForeignKey("reporter.id"), index=True)
    target_id: Mapped[int] = mapped_column(ForeignKey("reporter.id"))
    code_hash: Mapped[str] = mapped_column(String(64))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class InboundMessage(Base):
    """Every message exactly as it arrived, stored before anything else happens to it."""

    __tablename__ = "inbound_message"
    __table_args__ = (UniqueConstraint("channel", "idempotency_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(20))
    idempotency_key: Mapped[str] = mapped_column(String(200))
    sender: Mapped[str] = mapped_column(String(120))
    reporter_id: Mapped[int | None] = mapped_column(ForeignKey("reporter.id"))
    kind: Mapped[str] = mapped_column(String(20))  # text | photo | location | command | choice
    text: Mapped[str | None] = mapped_column(Text)
    payload: Mapped[Any] = mapped_column(JSONType)
    # the values and their order: storage.states.InboundStatus
    status: Mapped[InboundStatus] = mapped_column(EnumText(InboundStatus, 12),
                                                  default=InboundStatus.RECEIVED, index=True)
    error: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # failed runs
    replies: Mapped[Any] = mapped_column(JSONType, default=list)  # repeated on a replay
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Conversation(Base):
    """Where a reporter is in the reporting flow; one per reporter, kept server-side."""

    __tablename__ = "conversation"

    id: Mapped[int] = mapped_column(primary_key=True)
    reporter_id: Mapped[int] = mapped_column(ForeignKey("reporter.id"), unique=True)
    state: Mapped[DialogState] = mapped_column(EnumText(DialogState, 30), default=DialogState.IDLE)
    slots: Mapped[Any] = mapped_column(JSONType, default=dict)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class Case(Base):
    __tablename__ = "case"
    # label + latitude band + longitude: the duplicate search's bounding box (cases/duplicates).
    # The partial indexes hold only the few rows their query looks for (city scale, issue 21).
    __table_args__ = (Index("ix_case_label_created", "label", "created_at"),
                      Index("ix_case_label_lat_lon", "label", "lat", "lon"),
                      Index("ix_case_reporter_id", "reporter_id", "id"),
                      partial_index("ix_case_duplicate_of", "duplicate_of_id",
                                    where="duplicate_of_id IS NOT NULL"),
                      partial_index("ix_case_external_id", "external_id",
                                    where="external_id IS NOT NULL"),
                      partial_index("ix_case_open_due", "due_at", where=OPEN_DUE),
                      partial_index("ix_case_review", "created_at", where=IN_REVIEW))

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str | None] = mapped_column(String(32), unique=True)
    label: Mapped[str] = mapped_column(String(20), index=True)
    kind: Mapped[str | None] = mapped_column(String(10))
    major: Mapped[str | None] = mapped_column(String(2))
    minor: Mapped[str | None] = mapped_column(String(5))  # 4 digits (CJ/T 214) or 5 (2026)
    category_name: Mapped[str] = mapped_column(String(60), default="")
    confidence: Mapped[float] = mapped_column(Float, default=0.0)
    urgent: Mapped[bool] = mapped_column(Boolean, default=False)
    text: Mapped[str] = mapped_column(Text)
    place_text: Mapped[str | None] = mapped_column(Text)
    lat: Mapped[float | None] = mapped_column(Float)  # WGS-84
    lon: Mapped[float | None] = mapped_column(Float)
    location_source: Mapped[str | None] = mapped_column(String(20))  # gazetteer | pin | exif | ...
    grid_code: Mapped[str | None] = mapped_column(String(20), index=True)
    district: Mapped[str | None] = mapped_column(String(40))
    street: Mapped[str | None] = mapped_column(String(40))
    community: Mapped[str | None] = mapped_column(String(40))
    status: Mapped[CaseStatus] = mapped_column(EnumText(CaseStatus, 20), default=CaseStatus.ACCEPTED,
                                               index=True)
    channel: Mapped[str] = mapped_column(String(20))
    language: Mapped[str] = mapped_column(String(8), default="zh")
    reporter_id: Mapped[int | None] = mapped_column(ForeignKey("reporter.id"))
    contact_phone: Mapped[str | None] = mapped_column(String(32))
    duplicate_of_id: Mapped[int | None] = mapped_column(ForeignKey("case.id"))
    evidence: Mapped[Any] = mapped_column(JSONType, default=dict)
    needs_review: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    # A person chose the class at filing (the resident's pick): the review queue shows it once.
    corrected: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    label_before_review: Mapped[str | None] = mapped_column(String(20))
    external_id: Mapped[str | None] = mapped_column(String(80))  # the platform's request id
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    overdue: Mapped[bool] = mapped_column(Boolean, default=False)
    rating: Mapped[int | None] = mapped_column(Integer)
    rating_comment: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    reporter: Mapped[Reporter | None] = relationship()
    events: Mapped[list[CaseEvent]] = relationship(
        back_populates="case", order_by="CaseEvent.id", cascade="all, delete-orphan"
    )
    attachments: Mapped[list[Attachment]] = relationship(back_populates="case")
    duplicate_of: Mapped[Case | None] = relationship(remote_side=[id])


class CaseFollower(Base):
    """Another reporter linked to a case (a duplicate report): they hear every update too."""

    __tablename__ = "case_follower"
    __table_args__ = (UniqueConstraint("case_id", "reporter_id"),
                      Index("ix_case_follower_source", "source_case_id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case.id"), index=True)
    reporter_id: Mapped[int] = mapped_column(ForeignKey("reporter.id"))
    source_case_id: Mapped[int | None] = mapped_column(ForeignKey("case.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Attachment(Base):
    __tablename__ = "attachment"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("case.id"), index=True)
    inbound_id: Mapped[int | None] = mapped_column(ForeignKey("inbound_message.id"))
    path: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    mime: Mapped[str] = mapped_column(String(60))
    size: Mapped[int] = mapped_column(Integer)
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    exif_lat: Mapped[float | None] = mapped_column(Float)
    exif_lon: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    case: Mapped[Case | None] = relationship(back_populates="attachments")


class CaseEvent(Base):
    """One step of a case's history: accepted, filed, dispatched, …, rated, overdue, linked."""

    __tablename__ = "case_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case.id"), index=True)
    status: Mapped[str] = mapped_column(String(20))
    note: Mapped[str | None] = mapped_column(Text)
    department: Mapped[str | None] = mapped_column(String(120))
    photo_url: Mapped[str | None] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(String(60), default="system")
    data: Mapped[Any] = mapped_column(JSONType, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    case: Mapped[Case] = relationship(back_populates="events")


class Outbox(Base):
    """A delivery to make (case to a platform sink, message to a resident), written with its cause."""

    __tablename__ = "outbox"
    # Claims read the pending rows in order and stop at a batch; the in-flight index holds the
    # few leased rows, which the in-doubt sweep looks at.
    __table_args__ = (Index("ix_outbox_due", "status", "next_attempt_at"),
                      partial_index("ix_outbox_pending", "next_attempt_at", "id",
                                    where="status = 'pending'"),
                      partial_index("ix_outbox_in_flight", "locked_until",
                                    where="locked_by IS NOT NULL"))

    id: Mapped[int] = mapped_column(primary_key=True)
    sink: Mapped[str] = mapped_column(String(20))  # webhook | open311 | telegram | sms | generic_sms
    target: Mapped[str | None] = mapped_column(Text)  # chat id, phone number, or endpoint
    case_id: Mapped[int | None] = mapped_column(ForeignKey("case.id"), index=True)
    payload: Mapped[Any] = mapped_column(JSONType)
    idempotency_key: Mapped[str] = mapped_column(String(120), unique=True)
    status: Mapped[OutboxStatus] = mapped_column(EnumText(OutboxStatus, 12),
                                                 default=OutboxStatus.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    locked_by: Mapped[str | None] = mapped_column(String(60))  # worker id [+ states.IN_FLIGHT]
    last_error: Mapped[str | None] = mapped_column(Text)
    result: Mapped[Any] = mapped_column(JSONType, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class GeocodeCache(Base):
    __tablename__ = "geocode_cache"
    __table_args__ = (UniqueConstraint("provider", "query_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    provider: Mapped[str] = mapped_column(String(30))
    query_key: Mapped[str] = mapped_column(String(64))
    query: Mapped[str] = mapped_column(Text)
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    confidence: Mapped[float] = mapped_column(Float, default=0.0)
    matched: Mapped[str | None] = mapped_column(Text)
    payload: Mapped[Any] = mapped_column(JSONType, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CategoryOverride(Base):
    """An administrator's edit of one class (names, keywords, department, limit, enabled)."""

    __tablename__ = "category_override"

    label: Mapped[str] = mapped_column(String(20), primary_key=True)
    data: Mapped[Any] = mapped_column(JSONType)
    updated_by: Mapped[str | None] = mapped_column(String(60))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class Counter(Base):
    """Named integers shared by all processes, e.g. the keyword version classifiers watch."""

    __tablename__ = "counter"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    value: Mapped[int] = mapped_column(Integer, default=0)


class TrainingExample(Base):
    """A labelled text from review (relabelled cases) that the next retraining uses."""

    __tablename__ = "training_example"

    id: Mapped[int] = mapped_column(primary_key=True)
    text: Mapped[str] = mapped_column(Text)
    label: Mapped[str] = mapped_column(String(20))
    source: Mapped[str] = mapped_column(String(40))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("case.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


def token_hash(token: str) -> str:
    """How an operator's API token is kept (`User.api_token_hash`): never the token itself."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class User(Base):
    __tablename__ = "user_account"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(60), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(12))  # admin | operator
    api_token_hash: Mapped[str | None] = mapped_column(String(128), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Every admin session carries the epoch it was signed in under; logout, a password reset
    # or disabling the account bumps it, which ends all of that user's sessions at once.
    session_epoch: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class AuditLog(Base):
    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_action", "action", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    actor: Mapped[str] = mapped_column(String(60))
    action: Mapped[str] = mapped_column(String(60))
    target: Mapped[str | None] = mapped_column(String(120))
    before: Mapped[Any] = mapped_column(JSONType, nullable=True)
    after: Mapped[Any] = mapped_column(JSONType, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class WorkerHeartbeat(Base):
    """An outbox worker's last sign of life (`gridintake worker --status`, `/healthz`): a worker
    whose beat is old has stopped, or cannot reach the database."""

    __tablename__ = "worker_heartbeat"

    worker_id: Mapped[str] = mapped_column(String(80), primary_key=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    beat_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    state: Mapped[str] = mapped_column(String(20))  # running | recovered | stopped
    last_error: Mapped[str | None] = mapped_column(Text)  # the last fault it survived, and when
    delivered: Mapped[int] = mapped_column(Integer, default=0)  # rows delivered since it started


class ChannelToken(Base):
    """A channel's short-lived API credential (the WeChat access_token), shared by every process
    so that one of them refreshes it and the others use it."""

    __tablename__ = "channel_token"

    name: Mapped[str] = mapped_column(String(120), primary_key=True)
    value: Mapped[str | None] = mapped_column(Text)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    refreshes: Mapped[int] = mapped_column(Integer, default=0)


class MediaBlob(Base):
    """A stored file of the database media store (storage/media.py): photos, raw inbound media
    and exports, shared by every host of a city on one PostgreSQL."""

    __tablename__ = "media_blob"

    key: Mapped[str] = mapped_column(String(300), primary_key=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    size: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class PlatformEvent(Base):
    """A status event the platform sent, by the platform's own id, with the answer it got: the
    same event sent again gets that answer, without a second event or notice."""

    __tablename__ = "platform_event"

    event_id: Mapped[str] = mapped_column(String(120), primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case.id"), index=True)
    answer: Mapped[Any] = mapped_column(JSONType)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
