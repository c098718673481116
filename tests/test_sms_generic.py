"""The generic SMS gateway webhook: HMAC signatures, idempotency on the provider's id, opt-out."""

from __future__ import annotations

import json
import time

import pytest
from sqlalchemy import select

from bot.signing import HEADER, signature
from gateway.app import create_app
from storage.db import transaction
from storage.models import Reporter
from tests.conftest import make_runtime
from tests.support.sms import FIXTURES, inbound_count

SECRET = "generic-secret"


@pytest.fixture
def generic(tmp_path):
    runtime = make_runtime(tmp_path / "var", GRIDINTAKE_SMS_GENERIC_SECRET=SECRET)
    yield runtime, create_app(runtime).test_client()
    runtime.db.dispose()


def message(**changes) -> bytes:
    data = json.loads((FIXTURES / "generic_inbound.json").read_text("utf-8"))
    data.update(changes)
    return json.dumps(data, ensure_ascii=False).encode()


def post(client, body: bytes, header: str | None = "sign", secret: str = SECRET, ts=None):
    headers = {"Content-Type": "application/json"}
    if header == "sign":
        headers[HEADER] = signature(secret, body, ts)
    elif header is not None:
        headers[HEADER] = header
    return client.post("/sms/generic", data=body, headers=headers)


def test_signed_message_is_answered_with_replies_and_segments(generic):
    runtime, client = generic
    resp = post(client, message())
    assert resp.status_code == 200
    data = resp.get_json()
    assert data["replayed"] is False and data["replies"]
    assert all(r["segments"] in (1, 2) for r in data["replies"])
    with transaction(runtime.sessions) as session:
        reporter = session.scalar(select(Reporter))
        assert reporter.channel == "generic_sms" and reporter.phone == "+8613800001234"


@pytest.mark.parametrize("case", ["missing", "wrong-secret", "malformed", "expired", "tampered"])
def test_bad_signatures_are_refused_and_store_nothing(generic, case):
    runtime, client = generic
    body = message()
    if case == "missing":
        resp = post(client, body, header=None)
    elif case == "wrong-secret":
        resp = post(client, body, secret="other")
    elif case == "malformed":
        resp = post(client, body, header="sha256=abc")
    elif case == "expired":
        resp = post(client, body, ts=int(time.time()) - 3600)
    else:
        resp = post(client, body, header=signature(SECRET, message(text="别的")))
    assert resp.status_code == 403
    assert inbound_count(runtime) == 0


def test_replayed_id_repeats_the_reply(generic):
    runtime, client = generic
    first = post(client, message()).get_json()
    again = post(client, message()).get_json()
    assert again["replayed"] is True and again["replies"] == first["replies"]
    assert inbound_count(runtime) == 1


@pytest.mark.parametrize("body", [b"not json", b"[]", json.dumps({"id": "", "from": "1"}).encode(),
                                  json.dumps({"id": "1", "from": "138", "text": 5}).encode(),
                                  json.dumps({"id": "1", "from": "138", "received_at": "yesterday"}
                                             ).encode()])
def test_malformed_messages_are_400(generic, body):
    runtime, client = generic
    assert post(client, body).status_code == 400
    assert inbound_count(runtime) == 0


def test_disabled_without_a_secret(tmp_path):
    client = create_app(make_runtime(tmp_path / "var")).test_client()
    assert post(client, message()).status_code == 503


def test_unsubscribe_keywords_and_cancel(generic):
    runtime, client = generic
    post(client, message(id="a1"))
    cancelled = post(client, message(id="a2", text="CANCEL")).get_json()["replies"][0]["text"]
    assert "已取消" in cancelled  # no carrier filtering here: CANCEL is the conversation command
    stop = post(client, message(id="a3", text="退订")).get_json()["replies"][0]["text"]
    assert "退订" in stop
    with transaction(runtime.sessions) as session:
        assert session.scalar(select(Reporter)).unreachable is True
    assert "恢复" in post(client, message(id="a4", text="START")).get_json()["replies"][0]["text"]
