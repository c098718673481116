"""The transcript API: operators' bearer tokens, idempotency on call_id, the caller's turns only,
label and place overrides, and the SMS to a consenting caller."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from gateway.app import create_app
from storage.db import transaction
from storage.models import Case, InboundMessage, Outbox, Reporter
from tests.conftest import make_runtime
from tests.support.users import add_user

CALL = {
    "call_id": "C-2001",
    "caller_phone": "13800001234",
    "operator_id": "op-07",
    "transcript": "话务员：您好，这里是12345，请问垃圾清运有什么问题？ "
                  "市民：淇滨大道与九州路交叉口的井盖坏了，车一压就响。 "
                  "话务员：好的，井盖问题我们记录了。",
    "consent_sms": True,
}


@pytest.fixture
def api(tmp_path, database_url):
    runtime = make_runtime(tmp_path / "var", database_url)
    token = add_user(runtime, "wang", "operator")
    client = create_app(runtime).test_client()

    def post(body, path="/api/v1/transcripts", auth=token):
        headers = {"Authorization": f"Bearer {auth}"} if auth else {}
        return client.post(path, json=body, headers=headers)

    yield runtime, post
    runtime.db.dispose()


def count(runtime, model) -> int:
    with transaction(runtime.sessions) as session:
        return session.scalar(select(func.count(model.id)))


def test_transcript_files_a_case_from_the_callers_words(api):
    runtime, post = api
    resp = post(CALL)
    assert resp.status_code == 201
    case = resp.get_json()
    assert case["result"] == "created" and case["number"].startswith("GI-")
    assert case["channel"] == "hotline" and case["label"].startswith("component:01")
    assert case["grid_code"] and case["grid_code"].startswith("410611")
    assert "话务员" not in case["text"] and "垃圾清运" not in case["text"]
    assert "井盖坏了" in case["text"]
    with transaction(runtime.sessions) as session:
        row = session.scalar(select(InboundMessage))
        assert row.channel == "hotline" and row.status == "processed"
        assert row.payload["raw"]["transcript"]["transcript"] == CALL["transcript"]
        stored = session.scalar(select(Case))
        assert stored.evidence["hotline"] == {"call_id": "C-2001", "operator_id": "op-07",
                                              "actor": "wang"}
        sms = session.scalar(select(Outbox).where(Outbox.sink == "sms"))
        assert sms.target == "+8613800001234" and case["number"] in sms.payload["text"]
    assert case["sms_queued"] is True


def test_same_call_id_returns_the_same_case(api):
    runtime, post = api
    first = post(CALL).get_json()
    again = post({**CALL, "transcript": "市民：另一件事"})
    assert again.status_code == 200
    assert again.get_json()["number"] == first["number"] and again.get_json()["result"] == "duplicate"
    assert count(runtime, Case) == 1 and count(runtime, InboundMessage) == 1
    with transaction(runtime.sessions) as session:
        assert session.scalar(select(func.count(Outbox.id)).where(Outbox.sink == "sms")) == 1


def test_nul_characters_in_a_transcript_are_kept_as_replacement_characters(api):
    runtime, post = api
    resp = post({**CALL, "call_id": "C-2003\x00", "transcript": CALL["transcript"] + "\x00"})
    assert resp.status_code == 201 and "\x00" not in resp.get_data(as_text=True)
    with transaction(runtime.sessions) as session:
        row = session.scalar(select(InboundMessage))
        assert row.idempotency_key == "C-2003\ufffd"
        assert row.payload["raw"]["transcript"]["transcript"].endswith("\ufffd")


def test_turns_label_override_and_no_consent(api):
    runtime, post = api
    turns = [{"speaker": "话务员", "text": "请讲"},
             {"speaker": "市民", "text": "华夏南路和黎阳路路口的路灯不亮了"}]
    body = {"call_id": "C-2002", "caller_phone": "+8613900002222", "transcript": turns,
            "label": "event:0101", "consent_sms": False, "place": "华夏南路与黎阳路交叉口"}
    case = post(body).get_json()
    assert case["label"] == "event:0101" and case["text"] == "华夏南路和黎阳路路口的路灯不亮了"
    assert case["location_source"] == "operator" and case["place_text"] == "华夏南路与黎阳路交叉口"
    assert case["sms_queued"] is False
    with transaction(runtime.sessions) as session:
        assert session.scalar(select(func.count(Outbox.id)).where(Outbox.sink == "sms")) == 0
        assert session.scalar(select(Reporter)).consent_contact is False
        stored = session.scalar(select(Case))
        assert stored.evidence["classification"]["evidence"]["override"] == "event:0101"


@pytest.mark.parametrize(("auth", "status"), [(None, 401), ("not-a-token", 403), ("resident", 403)])
def test_operators_only(api, auth, status):
    runtime, post = api
    if auth == "resident":
        auth = add_user(runtime, "li", "viewer")
    assert post(CALL, auth=auth).status_code == status
    assert count(runtime, InboundMessage) == 0


@pytest.mark.parametrize(("change", "words"), [
    ({"call_id": ""}, "call_id"),
    ({"transcript": ""}, "empty"),
    ({"transcript": "话务员：您好 话务员：喂？"}, "no words from the caller"),
    ({"caller_phone": "12"}, "not a phone"),
    ({"label": "event:9999"}, "unknown label"),
    ({"consent_sms": "maybe"}, "consent_sms"),
    ({"extra": 1}, "unknown field"),
    ({"transcript": "市民：" + "井" * 30_000}, "limit"),
])
def test_bad_transcripts_are_400_with_the_reason(api, change, words):
    runtime, post = api
    resp = post({**CALL, **change})
    assert resp.status_code == 400 and words in resp.get_json()["error"]
    assert count(runtime, InboundMessage) == 0


def test_preview_shows_what_would_be_filed(api):
    runtime, post = api
    resp = post({"transcript": CALL["transcript"]}, path="/api/v1/transcripts/preview")
    data = resp.get_json()
    assert data["label"].startswith("component:01") and len(data["top"]) == 3
    assert data["place"]["grid_code"].startswith("410611")
    assert "话务员" not in data["citizen_text"]
    assert count(runtime, InboundMessage) == 0 and count(runtime, Case) == 0
