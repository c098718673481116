"""Storage on SQLite and PostgreSQL: schema, idempotent inbox, case numbers, keyword versions."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from bot.inbox import Inbox, inbound_from_row
from bot.types import Inbound, Photo, Reply
from cases.filing import case_number
from storage.catalog import bump_counter, effective_tree, keyword_version, save_override
from storage.db import make_engine, make_session_factory, transaction
from storage.media import LocalStore
from storage.migrate import downgrade, upgrade
from storage.models import Case, CaseEvent, InboundMessage, Reporter


@pytest.fixture
def sessions(database_url):
    upgrade(database_url)
    engine = make_engine(database_url)
    yield make_session_factory(engine)
    engine.dispose()


def test_migrations_create_every_table_and_downgrade_removes_them(bare_database_url):
    database_url = bare_database_url
    upgrade(database_url)
    engine = make_engine(database_url)
    tables = set(sa.inspect(engine).get_table_names())
    assert {"reporter", "inbound_message", "conversation", "case", "attachment", "case_event",
            "outbox", "geocode_cache", "category_override", "counter", "user_account",
            "audit_log", "training_example", "case_follower"} <= tables
    engine.dispose()
    downgrade(database_url, "base")
    engine = make_engine(database_url)
    assert "case" not in sa.inspect(engine).get_table_names()
    engine.dispose()


def test_inbound_idempotency_key_is_unique_per_channel(sessions):
    with transaction(sessions) as s:
        s.add(InboundMessage(channel="sms", idempotency_key="SM1", sender="+8613800000000",
                             kind="text", payload={}))
        s.add(InboundMessage(channel="telegram", idempotency_key="SM1", sender="42",
                             kind="text", payload={}))
    with pytest.raises(IntegrityError), transaction(sessions) as s:
        s.add(InboundMessage(channel="sms", idempotency_key="SM1", sender="+8613800000000",
                             kind="text", payload={}))


def test_inbox_stores_raw_message_before_processing_and_recognises_replays(sessions, tmp_path):
    inbox = Inbox(sessions, LocalStore(tmp_path))
    message = Inbound("sms", "+8613800000001", "SMabc", text="井盖坏了",
                      payload={"Body": "井盖坏了", "MessageSid": "SMabc"})
    first = inbox.record(message)
    assert first.previous_replies is None
    with transaction(sessions) as s:
        row = s.get(InboundMessage, first.id)
        assert row.status == "received"
        assert row.payload["raw"] == {"Body": "井盖坏了", "MessageSid": "SMabc"}
        row.status = "processed"
        row.replies = [Reply("已受理").to_json()]
    again = inbox.record(message)
    assert again.id == first.id
    assert [r.text for r in again.previous_replies] == ["已受理"]


def test_inbox_keeps_photo_bytes_so_a_failed_message_can_be_rebuilt(sessions, tmp_path):
    inbox = Inbox(sessions, LocalStore(tmp_path))
    message = Inbound("telegram", "7", "u1", photo=Photo(b"\xff\xd8 not really", "image/jpeg"),
                      location=(35.75, 114.29))
    recorded = inbox.record(message)
    with transaction(sessions) as s:
        rebuilt = inbound_from_row(s.get(InboundMessage, recorded.id), inbox.media)
    assert rebuilt.photo.data == b"\xff\xd8 not really"
    assert rebuilt.location == (35.75, 114.29)
    assert rebuilt.kind == "photo"


def test_datetimes_come_back_as_aware_utc(sessions):
    moment = datetime(2026, 11, 22, 20, 0, tzinfo=UTC)
    with transaction(sessions) as s:
        reporter = Reporter(channel="sms", channel_user_id="+861", created_at=moment)
        s.add(reporter)
        case = Case(label="event:0102", text="垃圾", channel="sms", reporter=reporter,
                    created_at=moment, due_at=moment + timedelta(hours=4))
        case.events.append(CaseEvent(status="accepted"))
        s.add(case)
    with transaction(sessions) as s:
        stored = s.scalar(sa.select(Case))
        assert stored.created_at == moment
        assert stored.created_at.tzinfo is not None
        assert stored.due_at - stored.created_at == timedelta(hours=4)
        assert [e.status for e in stored.events] == ["accepted"]


def test_case_numbers_follow_the_city_date():
    late_evening_utc = datetime(2026, 11, 22, 17, 30, tzinfo=UTC)  # 01:30 next day in Beijing
    assert case_number(123, late_evening_utc) == "GI-20261123-000123"


def test_keyword_edits_bump_the_version_and_overlay_the_tree(sessions):
    with transaction(sessions) as s:
        assert keyword_version(s) == 0
        base = effective_tree(s)
        fields = base.as_overrides("component:0118")
        fields["zh"] = [*fields["zh"], "灯瞎了"]
        assert save_override(s, "component:0118", fields, actor="admin") == 1
    with transaction(sessions) as s:
        tree = effective_tree(s)
        assert tree.version == 1
        assert "灯瞎了" in [k.text for k in tree.get("component:0118").keywords_zh]
        assert bump_counter(s, "keyword_version") == 2


def _backend_pid(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.text("SELECT pg_backend_pid()")).scalar_one()


def _terminate(url: str, pid: int) -> None:
    admin = sa.create_engine(url)
    with admin.begin() as conn:
        conn.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    admin.dispose()


@pytest.mark.postgres
def test_postgres_connection_dropped_while_idle_is_found_by_the_ping(postgres_url):
    engine = make_engine(postgres_url, ping_after_idle_s=0.2)
    first = _backend_pid(engine)
    _terminate(postgres_url, first)
    time.sleep(0.3)  # idle longer than the threshold: pinged, replaced, the query succeeds
    assert _backend_pid(engine) != first
    engine.dispose()


@pytest.mark.postgres
def test_postgres_connection_used_a_moment_ago_is_not_pinged(postgres_url):
    """No round trip before each transaction: a connection dropped within the idle window fails
    its first statement (and is replaced for the next one) instead of being pinged."""
    engine = make_engine(postgres_url, ping_after_idle_s=60)
    first = _backend_pid(engine)
    _terminate(postgres_url, first)
    with pytest.raises(sa.exc.OperationalError) as failed:
        _backend_pid(engine)
    assert failed.value.connection_invalidated
    assert _backend_pid(engine) != first
    engine.dispose()
