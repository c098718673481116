"""Outbound SMS through the outbox: the Twilio REST client against a local stand-in for the API,
the generic gateway's HTTP endpoint, and opted-out numbers never sent to."""

from __future__ import annotations

import base64
import json
from urllib.parse import parse_qs

from sqlalchemy import select

from bot.signing import HEADER, verify
from cases.outbox import enqueue
from gateway.forwarding.worker import Worker
from storage.db import transaction
from storage.models import Outbox, Reporter
from tests.conftest import make_runtime
from tests.support.sms import ACCOUNT, TOKEN, twilio_api

SECRET = "generic-secret"


def runtime_for(tmp_path, api_url: str, **env):
    return make_runtime(tmp_path / "var", GRIDINTAKE_TWILIO_AUTH_TOKEN=TOKEN,
                        GRIDINTAKE_TWILIO_ACCOUNT_SID=ACCOUNT, GRIDINTAKE_TWILIO_FROM="+14155550100",
                        GRIDINTAKE_TWILIO_API_BASE=api_url, GRIDINTAKE_SMS_GENERIC_SECRET=SECRET,
                        GRIDINTAKE_SMS_GENERIC_OUTBOUND_URL=api_url + "/send", **env)


def queue(runtime, sink: str, phone: str, *, unreachable: bool = False, key: str = "n1") -> int:
    with transaction(runtime.sessions) as session:
        reporter = Reporter(channel=sink, channel_user_id=phone, phone=phone, language="zh",
                            unreachable=unreachable)
        session.add(reporter)
        session.flush()
        row = enqueue(session, sink=sink, target=phone, key=key, payload={
            "text": "案件GI-20261122-000123已办结。请为处理结果打分：回复1-5（5最满意），可附意见。",
            "choices": [{"key": str(n), "label": "★" * n} for n in range(1, 6)],
            "language": "zh", "reporter_id": reporter.id, "case": "GI-20261122-000123"})
        session.flush()
        return row.id


def row(runtime, row_id: int) -> Outbox:
    with transaction(runtime.sessions) as session:
        return session.get(Outbox, row_id)


def deliver(runtime) -> dict:
    worker = Worker(runtime)
    try:
        return worker.run_once()
    finally:
        worker.close()


def test_twilio_rest_sends_through_the_configured_api_base(tmp_path, local_server):
    api = twilio_api(local_server)
    runtime = runtime_for(tmp_path, api.url)
    row_id = queue(runtime, "sms", "+8613800001234")
    assert deliver(runtime)["done"] == 1
    sent = api.requests[0]
    assert sent.path == f"/2010-04-01/Accounts/{ACCOUNT}/Messages.json"
    assert sent.headers["Authorization"] == "Basic " + base64.b64encode(
        f"{ACCOUNT}:{TOKEN}".encode()).decode()
    form = parse_qs(sent.body.decode())
    assert form["To"] == ["+8613800001234"] and form["From"] == ["+14155550100"]
    assert form["Body"][0].startswith("案件GI-20261122-000123已办结")
    done = row(runtime, row_id)
    assert done.status == "done" and done.result["sid"].startswith("SM")
    assert done.result["segments"] == 1


def test_unsubscribed_answer_marks_the_resident_unreachable(tmp_path, local_server):
    api = twilio_api(local_server, "unsubscribed", 400)
    runtime = runtime_for(tmp_path, api.url)
    row_id = queue(runtime, "sms", "+8613800001234")
    assert deliver(runtime)["unreachable"] == 1
    with transaction(runtime.sessions) as session:
        assert session.scalar(select(Reporter)).unreachable is True
    assert row(runtime, row_id).status == "done"


def test_server_errors_are_retried_and_bad_requests_dead_lettered(tmp_path, local_server):
    flaky = local_server(lambda seen: (503, {"Content-Type": "application/json"},
                                       b'{"code": 20500, "message": "busy", "status": 503}'))
    runtime = runtime_for(tmp_path, flaky.url)
    row_id = queue(runtime, "sms", "+8613800001234")
    assert deliver(runtime)["retry"] == 1
    assert row(runtime, row_id).status == "pending" and "503" in row(runtime, row_id).last_error
    bad = local_server(lambda seen: (400, {"Content-Type": "application/json"},
                                     b'{"code": 21211, "message": "Invalid To", "status": 400}'))
    runtime2 = runtime_for(tmp_path / "b", bad.url)
    row2 = queue(runtime2, "sms", "+8613800001234")
    assert deliver(runtime2)["dead"] == 1
    assert "21211" in row(runtime2, row2).last_error


def test_opted_out_numbers_are_never_sent_to(tmp_path, local_server):
    api = twilio_api(local_server)
    runtime = runtime_for(tmp_path, api.url)
    queue(runtime, "sms", "+8613800001234", unreachable=True)
    # a hotline caller with the same phone, opted out by their STOP on the SMS channel
    with transaction(runtime.sessions) as session:
        session.add(Reporter(channel="hotline", channel_user_id="call:1", phone="+8613800005678"))
        session.add(Reporter(channel="sms", channel_user_id="+8613800005678",
                             phone="+8613800005678", unreachable=True))
        session.flush()
        caller = session.scalar(select(Reporter).where(Reporter.channel == "hotline"))
        enqueue(session, sink="sms", target="+8613800005678", key="n2",
                payload={"text": "x", "reporter_id": caller.id})
    deliver(runtime)
    assert api.requests == []


def test_generic_gateway_outbound_is_signed(tmp_path, local_server):
    seen_bodies = []

    def respond(seen):
        verify(SECRET, seen.headers.get(HEADER), seen.body)
        seen_bodies.append(json.loads(seen.body))
        return 200, {"Content-Type": "application/json"}, b'{"ok": true}'

    gateway = local_server(respond)
    runtime = runtime_for(tmp_path, gateway.url)
    row_id = queue(runtime, "generic_sms", "13800001234")
    assert deliver(runtime)["done"] == 1
    assert seen_bodies[0]["to"] == "13800001234" and seen_bodies[0]["id"] == "n1"
    assert seen_bodies[0]["text"].startswith("案件GI-20261122-000123已办结")
    assert row(runtime, row_id).status == "done"


def test_generic_gateway_gone_means_unreachable(tmp_path, local_server):
    gateway = local_server(lambda seen: (410, {}, b""))
    runtime = runtime_for(tmp_path, gateway.url)
    queue(runtime, "generic_sms", "13800001234")
    assert deliver(runtime)["unreachable"] == 1
