"""A crash while an SMS is being processed loses nothing (issue "Channels").

`gridintake serve` on PostgreSQL is SIGKILLed after the raw message was committed but while the
conversation engine is still at work; the message stays "received", `gridintake inbound retry`
finishes it, and Twilio's replay of the same MessageSid gets the stored reply.

Processing is frozen deterministically: the test holds `LOCK TABLE conversation IN ACCESS
EXCLUSIVE MODE`. `Inbox.record` writes only `inbound_message` (and its foreign key to `reporter`),
so the raw row commits; the engine's next transaction then blocks on its first read of
`conversation`, which the test sees in `pg_locks` before it kills the server.

The resident never got the webhook's answer, so the retry queues its replies in the outbox and
`gridintake worker` texts them through the Twilio REST API (a local stand-in here).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from urllib.parse import parse_qs

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy import func, select

from bot.handlers.sms import handler as sms
from bot.handlers.sms.outbound import outbound_text
from bot.types import Reply
from storage.db import transaction
from storage.models import Case, Conversation, InboundMessage, Outbox
from tests.conftest import make_runtime
from tests.support.processes import GRIDINTAKE, serving, wait_for
from tests.support.sms import ACCOUNT, TOKEN, sign, twilio_api, twilio_form

pytestmark = [pytest.mark.postgres, pytest.mark.slow]
PUBLIC_URL = "https://intake.example.test"  # what Twilio signs; the server checks against it
SMS_URL = PUBLIC_URL + "/sms/twilio"


@pytest.fixture
def fake_twilio(local_server):
    """The Twilio REST API the worker texts residents through."""
    return twilio_api(local_server)


@pytest.fixture
def pg_runtime(tmp_path, postgres_url, fake_twilio):
    """A migrated fresh schema, the environment for `gridintake` subprocesses on it."""
    rt = make_runtime(tmp_path / "var", postgres_url)
    env = {**os.environ, "GRIDINTAKE_DATA_DIR": str(tmp_path / "var"),
           "GRIDINTAKE_DATABASE_URL": postgres_url, "GRIDINTAKE_TWILIO_AUTH_TOKEN": TOKEN,
           "GRIDINTAKE_PUBLIC_URL": PUBLIC_URL, "GRIDINTAKE_TWILIO_ACCOUNT_SID": ACCOUNT,
           "GRIDINTAKE_TWILIO_FROM": "+14155550100", "GRIDINTAKE_TWILIO_API_BASE": fake_twilio.url}
    yield rt, env
    rt.db.dispose()


@contextmanager
def table_locked(url: str, table: str) -> Iterator[sa.Connection]:
    """Hold ACCESS EXCLUSIVE on `table` (even plain reads wait) until the block ends."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            conn.execute(sa.text(f'LOCK TABLE "{table}" IN ACCESS EXCLUSIVE MODE'))
            try:
                yield conn
            finally:
                conn.rollback()
    finally:
        engine.dispose()


def inbound_rows(rt) -> list[InboundMessage]:
    with transaction(rt.sessions) as session:
        return session.scalars(select(InboundMessage).order_by(InboundMessage.id)).all()


def lock_waiters(conn: sa.Connection, table: str) -> int:
    return conn.execute(sa.text("SELECT count(*) FROM pg_locks WHERE relation = CAST(:t AS regclass) "
                                "AND NOT granted"), {"t": table}).scalar()


def post(url: str, form: dict[str, str], **kwargs) -> httpx.Response:
    return httpx.post(url, data=form, headers={"X-Twilio-Signature": sign(SMS_URL, form)}, **kwargs)


def outbox_rows(rt) -> list[Outbox]:
    with transaction(rt.sessions) as session:
        return session.scalars(select(Outbox).order_by(Outbox.id)).all()


def texted(api) -> list[dict[str, str]]:
    """The messages the worker sent through the Twilio stand-in: To and Body."""
    forms = [parse_qs(seen.body.decode()) for seen in api.requests]
    return [{"To": form["To"][0], "Body": form["Body"][0]} for form in forms]


def test_a_server_killed_mid_processing_loses_no_message(pg_runtime, postgres_url, tmp_path,
                                                         fake_twilio):
    rt, env = pg_runtime
    log_path = tmp_path / "serve.log"
    form = twilio_form(MessageSid="SM" + "c" * 32)
    sent: dict[str, object] = {}

    def resident_texts(base: str) -> None:
        try:
            sent["response"] = post(base + "/sms/twilio", form, timeout=30)
        except httpx.HTTPError as exc:
            sent["error"] = exc

    with serving(env, log_path) as (proc, base), table_locked(postgres_url, "conversation") as lock:
        texting = threading.Thread(target=resident_texts, args=(base,), daemon=True)
        texting.start()
        [row] = wait_for("the raw message to be committed", lambda: inbound_rows(rt))
        assert row.status == "received"
        wait_for("the engine to block on the conversation table",
                 lambda: lock_waiters(lock, "conversation"))
        os.killpg(proc.pid, signal.SIGKILL)  # gunicorn's master and its workers, all at once
        assert proc.wait(timeout=10) == -signal.SIGKILL
        texting.join(timeout=10)
        assert "response" not in sent and "error" in sent  # the resident got no answer
        with pytest.raises(httpx.TransportError):  # nobody else was serving on that port
            httpx.get(base + "/healthz", timeout=2)
    # The lock is released: the dead server's half-done transaction can never commit.

    [row] = inbound_rows(rt)
    assert (row.status, row.replies, row.processed_at, row.reporter_id) == ("received", [], None, None)
    assert row.idempotency_key == form["MessageSid"] and row.sender == form["From"]
    assert row.text == form["Body"] and row.payload["raw"] == {"twilio": form}
    with transaction(rt.sessions) as session:
        assert session.scalar(select(func.count(Conversation.id))) == 0

    retry = subprocess.run([str(GRIDINTAKE), "inbound", "retry", "--older-than", "0"], env=env,
                           capture_output=True, text=True, timeout=60)
    assert retry.returncode == 0, retry.stderr
    assert json.loads(retry.stdout) == {"retried": 1, "cases": []}
    [row] = inbound_rows(rt)
    assert row.status == "processed" and row.processed_at is not None and row.error is None
    replies = [Reply.from_json(r) for r in row.replies]
    assert replies and "回复1提交" in replies[-1].text
    with transaction(rt.sessions) as session:
        conv = session.scalar(select(Conversation).where(Conversation.reporter_id == row.reporter_id))
        assert conv.state == "confirm" and conv.slots["text"] == form["Body"]

    # The confirmation question reaches the resident after all: queued, then texted by the worker.
    [queued] = outbox_rows(rt)
    assert (queued.sink, queued.target, queued.status) == ("sms", form["From"], "pending")
    assert queued.idempotency_key == f"replies:{row.id}" and "回复1提交" in queued.payload["text"]
    worker = subprocess.run([str(GRIDINTAKE), "worker", "--once"], env=env, capture_output=True,
                            text=True, timeout=60)
    assert worker.returncode == 0, worker.stderr
    assert json.loads(worker.stdout)["done"] == 1
    assert texted(fake_twilio) == [{"To": form["From"], "Body": outbound_text(queued)}]
    [delivered] = outbox_rows(rt)
    assert delivered.status == "done" and delivered.result["sid"].startswith("SM")
    again = subprocess.run([str(GRIDINTAKE), "inbound", "retry", "--older-than", "0"], env=env,
                           capture_output=True, text=True, timeout=60)
    assert json.loads(again.stdout) == {"retried": 0, "cases": []} and len(outbox_rows(rt)) == 1

    with serving(env, log_path) as (_, base):
        again = post(base + "/sms/twilio", form, timeout=30)  # Twilio's retry of the same SMS
        assert again.status_code == 200 and again.headers["content-type"].startswith("text/xml")
        assert again.text == sms.twiml(replies)
        assert len(inbound_rows(rt)) == 1
        # The conversation goes on from where the retry left it: "1" files the case.
        confirm = twilio_form(MessageSid="SM" + "d" * 32, Body="1")
        filed = post(base + "/sms/twilio", confirm, timeout=30)
        assert filed.status_code == 200
    with transaction(rt.sessions) as session:
        [case] = session.scalars(select(Case)).all()
        assert case.reporter_id == row.reporter_id and case.number in filed.text


def test_the_worker_loop_retries_messages_left_unprocessed(pg_runtime, fake_twilio):
    """`gridintake worker` also finishes inbound messages left "received" for over a minute,
    and texts the resident the replies."""
    rt, env = pg_runtime
    forms = [twilio_form(MessageSid=f"SM{n:032d}", From=f"+86138000000{n:02d}") for n in (1, 2)]
    # What a crash leaves behind: the raw messages, committed and never processed.
    old, fresh = (rt.engine.inbox.record(sms.twilio_inbound(rt, form)).id for form in forms)
    with transaction(rt.sessions) as session:
        session.get(InboundMessage, old).received_at -= timedelta(minutes=2)

    def status() -> dict[int, str]:
        return {row.id: row.status for row in inbound_rows(rt)}

    def old_processed() -> bool:
        if worker.poll() is not None:
            pytest.fail(f"gridintake worker exited: {worker.stderr.read()}")
        return status()[old] == "processed" and bool(fake_twilio.requests)

    worker = subprocess.Popen([str(GRIDINTAKE), "worker"], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    try:
        wait_for("the worker to process the old message and text the reply", old_processed, 30)
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=15) == 0, worker.stderr.read()
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
    assert status()[fresh] == "received"  # younger than the default 60 s: perhaps still in flight
    [row] = [row for row in inbound_rows(rt) if row.id == old]
    assert "回复1提交" in Reply.from_json(row.replies[-1]).text
    [sent] = texted(fake_twilio)
    assert sent["To"] == forms[0]["From"] and "回复1提交" in sent["Body"]
