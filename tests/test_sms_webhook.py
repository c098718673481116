"""The Twilio webhook through Flask's test client: signatures, replays, conversations, opt-out,
idle expiry, rate limits and size limits."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from gateway.app import create_app
from storage.db import transaction
from storage.models import Case, Conversation, InboundMessage, Reporter
from tests.conftest import make_runtime
from tests.support.services import require_redis
from tests.support.sms import TOKEN, Texter, inbound_count, sign, twilio_form

NUMBER = re.compile(r"GI-\d{8}-\d{6}")
URL = "http://localhost/sms/twilio"


def messages(xml: str) -> list[str]:
    return re.findall(r"<Message>(.*?)</Message>", xml, re.S)


def test_signed_message_gets_twiml_in_the_senders_language(sms_client, sms_runtime):
    form = twilio_form()
    resp = sms_client.post("/sms/twilio", data=form, headers={"X-Twilio-Signature": sign(URL, form)})
    assert resp.status_code == 200
    assert resp.mimetype == "text/xml"
    body = resp.data.decode()
    assert body.startswith('<?xml version="1.0" encoding="UTF-8"?><Response><Message>')
    assert "回复1提交" in messages(body)[0]
    english = twilio_form(Body="The street light at Jiuzhou Road is broken", From="+447700900123",
                          MessageSid="SM" + "e" * 32)
    resp = sms_client.post("/sms/twilio", data=english,
                           headers={"X-Twilio-Signature": sign(URL, english)})
    reply = messages(resp.data.decode())[0]
    assert re.match(r"[A-Z][a-z]+ ", reply) and "Reply 1" in reply  # place names stay Chinese
    assert "回复" not in reply


@pytest.mark.parametrize("header", [None, "", "bm90IGEgc2lnbmF0dXJl", "sign-with-other-token"])
def test_missing_or_wrong_signature_is_403_and_stores_nothing(sms_client, sms_runtime, header):
    form = twilio_form()
    headers = {}
    if header == "sign-with-other-token":
        headers["X-Twilio-Signature"] = sign(URL, form, token="another-token")
    elif header is not None:
        headers["X-Twilio-Signature"] = header
    resp = sms_client.post("/sms/twilio", data=form, headers=headers)
    assert resp.status_code == 403
    assert inbound_count(sms_runtime) == 0


def test_a_changed_body_breaks_the_signature(sms_client, sms_runtime):
    form = twilio_form()
    signature = sign(URL, form)
    resp = sms_client.post("/sms/twilio", data={**form, "Body": "别的内容"},
                           headers={"X-Twilio-Signature": signature})
    assert resp.status_code == 403
    assert inbound_count(sms_runtime) == 0


def test_no_auth_token_configured_refuses_everything(tmp_path):
    runtime = make_runtime(tmp_path / "var")
    form = twilio_form()
    resp = create_app(runtime).test_client().post(
        "/sms/twilio", data=form, headers={"X-Twilio-Signature": sign(URL, form)})
    assert resp.status_code == 403
    assert inbound_count(runtime) == 0


def test_replayed_message_sid_repeats_the_reply_and_stores_nothing_new(sms_client, sms_runtime):
    form = twilio_form()
    headers = {"X-Twilio-Signature": sign(URL, form)}
    first = sms_client.post("/sms/twilio", data=form, headers=headers)
    with transaction(sms_runtime.sessions) as session:
        conv_before = session.scalar(select(Conversation)).slots
    second = sms_client.post("/sms/twilio", data=form, headers=headers)
    assert second.status_code == 200 and second.data == first.data
    assert inbound_count(sms_runtime) == 1
    with transaction(sms_runtime.sessions) as session:
        assert session.scalar(select(func.count(Reporter.id))) == 1
        assert session.scalar(select(Conversation)).slots == conv_before


def test_signature_checked_against_the_public_url_behind_a_proxy(tmp_path):
    public = "https://sms.example.org/gateway"
    runtime = make_runtime(tmp_path / "var", GRIDINTAKE_TWILIO_AUTH_TOKEN=TOKEN,
                           GRIDINTAKE_PUBLIC_URL=public)
    client = create_app(runtime).test_client()
    form = twilio_form()
    assert client.post("/sms/twilio", data=form,
                       headers={"X-Twilio-Signature": sign(URL, form)}).status_code == 403
    ok = client.post("/sms/twilio", data=form,
                     headers={"X-Twilio-Signature": sign(public + "/sms/twilio", form)})
    assert ok.status_code == 200


def test_forwarded_headers_rebuild_the_url_twilio_signed(sms_client):
    form = twilio_form()
    signed_for = "https://bot.example.org/sms/twilio"
    resp = sms_client.post("/sms/twilio", data=form, headers={
        "X-Twilio-Signature": sign(signed_for, form),
        "X-Forwarded-Proto": "https", "X-Forwarded-Host": "bot.example.org"})
    assert resp.status_code == 200


def test_multi_turn_sms_conversation_files_a_case(tmp_path, database_url):
    runtime = make_runtime(tmp_path / "var", database_url, GRIDINTAKE_TWILIO_AUTH_TOKEN=TOKEN)
    try:
        texter = Texter(create_app(runtime).test_client())
        reply = texter.say("路灯不亮了，晚上很黑")
        for _ in range(4):
            if NUMBER.search(reply):
                break
            text = messages(reply)[-1]
            texter_answer = "1" if re.search(r"回复1|^1 ", text, re.M) else "华夏南路与黎阳路交叉口"
            reply = texter.say(texter_answer)
        number = NUMBER.search(reply).group()
        status = messages(texter.say(f"查询 {number}"))[0]
        assert number in status and "已受理" in status
        with transaction(runtime.sessions) as session:
            case = session.scalar(select(Case))
            assert case.number == number and case.channel == "sms"
            assert case.contact_phone == "+8613800001234"
            assert case.grid_code and case.label.startswith("component:")
            assert session.scalar(select(func.count(InboundMessage.id))) == texter.n
    finally:
        runtime.db.dispose()


def test_nul_characters_are_read_filed_and_stored(tmp_path, database_url):
    """PostgreSQL cannot hold NUL in text: the report is still answered, filed and kept, with
    U+FFFD in its place on both databases."""
    runtime = make_runtime(tmp_path / "var", database_url, GRIDINTAKE_TWILIO_AUTH_TOKEN=TOKEN)
    try:
        texter = Texter(create_app(runtime).test_client())
        texter.say("淇滨大道与九州路交叉口的井盖坏了\x00")
        number = NUMBER.search(texter.say("1")).group()
        kept = "淇滨大道与九州路交叉口的井盖坏了\ufffd"
        with transaction(runtime.sessions) as session:
            first = session.scalar(select(InboundMessage).order_by(InboundMessage.id))
            assert first.text == kept and first.payload["raw"]["twilio"]["Body"] == kept
            assert first.status == "processed"
            assert session.scalar(select(Case.text).where(Case.number == number)) == kept
    finally:
        runtime.db.dispose()


def test_idle_conversation_expires_with_a_polite_note(sms_client, sms_runtime):
    texter = Texter(sms_client)
    texter.say("淇滨大道与九州路交叉口的井盖坏了")
    idle = sms_runtime.settings.bot.idle_minutes
    with transaction(sms_runtime.sessions) as session:
        conv = session.scalar(select(Conversation))
        assert conv.state == "confirm"
        session.execute(Conversation.__table__.update().values(
            updated_at=conv.updated_at - timedelta(minutes=idle + 1)))
    reply = messages(texter.say("1"))
    assert "长时间未回复" in reply[0]
    with transaction(sms_runtime.sessions) as session:
        assert session.scalar(select(func.count(Case.id))) == 0


def _reporter(runtime, phone: str) -> Reporter:
    with transaction(runtime.sessions) as session:
        return session.scalar(select(Reporter).where(Reporter.channel_user_id == phone))


def test_stop_opts_out_silently_and_start_opts_back_in(sms_client, sms_runtime):
    texter = Texter(sms_client)
    texter.say("淇滨大道与九州路交叉口的井盖坏了")
    stop = texter.send("STOP")
    assert stop.status_code == 200 and messages(stop.data.decode()) == []
    reporter = _reporter(sms_runtime, texter.phone)
    assert reporter.unreachable is True
    with transaction(sms_runtime.sessions) as session:
        assert session.scalar(select(Conversation)).state == "idle"
        assert session.scalar(select(func.count(InboundMessage.id))) == 2
    started = messages(texter.say("start"))
    assert "恢复" in started[0]
    assert _reporter(sms_runtime, texter.phone).unreachable is False


def test_cancel_on_twilio_opts_out_and_drops_the_report(sms_client, sms_runtime):
    texter = Texter(sms_client)
    texter.say("淇滨大道与九州路交叉口的井盖坏了")
    assert messages(texter.say("CANCEL")) == []
    assert _reporter(sms_runtime, texter.phone).unreachable is True


def test_chinese_cancel_only_cancels_the_report(sms_client, sms_runtime):
    texter = Texter(sms_client)
    texter.say("淇滨大道与九州路交叉口的井盖坏了")
    assert "已取消" in messages(texter.say("取消"))[0]
    assert _reporter(sms_runtime, texter.phone).unreachable is False


def test_yes_confirms_a_report_when_the_number_is_not_opted_out(sms_client, sms_runtime):
    texter = Texter(sms_client)
    texter.say("淇滨大道与九州路交叉口的井盖坏了")
    assert NUMBER.search(texter.say("yes"))


def test_help_and_status_keywords(sms_client):
    texter = Texter(sms_client)
    assert "查询" in messages(texter.say("帮助"))[0]
    assert "查询 案件号" in messages(texter.say("CX"))[0]
    assert "没有找到" in messages(texter.say("查询 GI-20260101-000999"))[0]


@pytest.mark.parametrize("storage", ["memory://", "redis://127.0.0.1:6379/0"])
def test_rate_limit_per_sender_answers_politely(tmp_path, storage):
    if storage.startswith("redis"):
        require_redis(storage)
    runtime = make_runtime(tmp_path / "var", GRIDINTAKE_TWILIO_AUTH_TOKEN=TOKEN,
                           GRIDINTAKE_LIMITS_PER_SENDER="3/minute",
                           GRIDINTAKE_RATE_LIMIT_STORAGE=storage)
    client = create_app(runtime).test_client()
    noisy = Texter(client, phone=f"+86139{uuid.uuid4().int % 10**8:08d}")
    replies = [messages(noisy.say("帮助"))[0] for _ in range(5)]
    assert all("发送得太快" not in r for r in replies[:3])
    assert all("发送得太快" in r for r in replies[3:])
    with transaction(runtime.sessions) as session:  # kept, answered, not processed
        rows = session.scalars(select(InboundMessage).order_by(InboundMessage.id)).all()
        assert [(r.status, r.error) for r in rows] == [("processed", None)] * 3 + [
            ("rejected", "rate limited")] * 2
        assert all("发送得太快" in r.replies[0]["text"] for r in rows[3:])
    other = Texter(client, phone=f"+86137{uuid.uuid4().int % 10**8:08d}")
    assert "发送得太快" not in messages(other.say("帮助"))[0]
    runtime.db.dispose()


def test_twilio_retry_of_an_answered_message_gets_its_reply_even_over_the_rate_limit(tmp_path):
    runtime = make_runtime(tmp_path / "var", GRIDINTAKE_TWILIO_AUTH_TOKEN=TOKEN,
                           GRIDINTAKE_LIMITS_PER_SENDER="2/minute")
    client = create_app(runtime).test_client()
    form = twilio_form(Body="路灯不亮", MessageSid="SM" + "7" * 32)
    headers = {"X-Twilio-Signature": sign(URL, form)}
    first = client.post("/sms/twilio", data=form, headers=headers)
    retries = [client.post("/sms/twilio", data=form, headers=headers) for _ in range(3)]
    assert "发送得太快" not in first.text
    assert [r.data for r in retries] == [first.data] * 3
    assert inbound_count(runtime) == 1
    runtime.db.dispose()


def test_too_long_text_gets_a_clear_reply(sms_client, sms_runtime):
    reply = messages(Texter(sms_client).say("井盖" * 1500))
    assert "太长" in reply[0]
    with transaction(sms_runtime.sessions) as session:
        assert session.scalar(select(InboundMessage)).status == "rejected"


def test_oversized_request_is_refused_before_parsing(sms_client, sms_runtime):
    form = twilio_form(Body="井" * 40_000)
    resp = sms_client.post("/sms/twilio", data=form, headers={"X-Twilio-Signature": sign(URL, form)})
    assert resp.status_code == 413
    assert inbound_count(sms_runtime) == 0
