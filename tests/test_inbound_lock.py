"""One message is processed once, even when a retry takes it while a webhook is at work on it
(issue "Channels"). On PostgreSQL the engine's first query locks the inbound row (and only it)
while it reads the sender and their conversation; the second run waits, then answers with the
first run's replies and changes nothing."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy import func, select, update

from bot.types import Inbound, Reply
from storage.db import transaction
from storage.models import Conversation, InboundMessage, Reporter
from tests.conftest import make_runtime
from tests.support.processes import wait_for

pytestmark = pytest.mark.postgres
WAITING = ("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
           "AND query LIKE '%FOR UPDATE OF inbound_message%'")


def waiting(engine: sa.Engine) -> int:
    """From a connection of its own: pg_stat_activity holds still within a transaction."""
    with engine.connect() as conn:
        return conn.execute(sa.text(WAITING)).scalar()


def test_a_retry_waits_for_the_run_in_progress_and_repeats_its_answer(tmp_path, postgres_url):
    runtime = make_runtime(tmp_path / "var", postgres_url)
    inbound = Inbound(channel="sms", sender="+8613800000001", key="SM" + "1" * 32,
                      text="九州路口的井盖坏了")
    row_id = runtime.engine.inbox.record(inbound).id
    first_answer = Reply("已收到，正在处理。")
    retried = []
    other = sa.create_engine(postgres_url)
    try:
        with other.connect() as first_run:  # the webhook's run, holding the row
            first_run.execute(select(InboundMessage.id).where(InboundMessage.id == row_id)
                              .with_for_update())
            retry = threading.Thread(target=lambda: retried.extend(
                runtime.engine.retry_pending(older_than=timedelta(0))))
            retry.start()
            wait_for("the retry to wait on the row lock", lambda: waiting(other))
            first_run.execute(update(InboundMessage).where(InboundMessage.id == row_id).values(
                status="processed", replies=[first_answer.to_json()]))
            first_run.commit()
        retry.join(timeout=10)
    finally:
        other.dispose()
    [outcome] = retried
    assert outcome.replayed and outcome.replies == [first_answer]
    with transaction(runtime.sessions) as session:  # the retry created nobody and nothing
        assert session.scalar(select(func.count()).select_from(Reporter)) == 0
        assert session.scalar(select(func.count()).select_from(Conversation)) == 0
