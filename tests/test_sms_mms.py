"""MMS photos: MediaUrlN fetched from a local stand-in for Twilio's media store, with the account
credentials, within the size limit, and verified as an image by the engine."""

from __future__ import annotations

import base64
import io

from PIL import Image
from sqlalchemy import select

from gateway.app import create_app
from storage.db import transaction
from storage.models import Attachment, InboundMessage
from tests.conftest import make_runtime
from tests.support.sms import ACCOUNT, TOKEN, sign, twilio_form

URL = "http://localhost/sms/twilio"
MEDIA_PATH = f"/2010-04-01/Accounts/{ACCOUNT}/Messages/MM1/Media/ME1"


def jpeg(size=(64, 48)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (90, 120, 60)).save(out, format="JPEG")
    return out.getvalue()


def media_store(local_server, data: bytes, mime: str = "image/jpeg"):
    expected = "Basic " + base64.b64encode(f"{ACCOUNT}:{TOKEN}".encode()).decode()

    def respond(seen):
        if seen.headers.get("Authorization") != expected:
            return 401, {"Content-Type": "application/json"}, b'{"code": 20003}'
        return 200, {"Content-Type": mime}, data

    return local_server(respond)


def client_for(tmp_path, server, **env):
    runtime = make_runtime(tmp_path / "var", GRIDINTAKE_TWILIO_AUTH_TOKEN=TOKEN,
                           GRIDINTAKE_TWILIO_ACCOUNT_SID=ACCOUNT,
                           GRIDINTAKE_TWILIO_API_BASE=server.url,
                           GRIDINTAKE_SMS_MEDIA_HOSTS="127.0.0.1", **env)
    return runtime, create_app(runtime).test_client()


def post_mms(client, server, body: str = "", mime: str = "image/jpeg", sid: str = "MM1"):
    form = twilio_form("inbound_mms.json", Body=body, MessageSid=sid,
                       MediaUrl0=server.url + MEDIA_PATH, MediaContentType0=mime)
    resp = client.post("/sms/twilio", data=form, headers={"X-Twilio-Signature": sign(URL, form)})
    assert resp.status_code == 200
    return resp.data.decode()


def test_mms_photo_is_fetched_with_credentials_and_attached(tmp_path, local_server):
    photo = jpeg()
    server = media_store(local_server, photo)
    runtime, client = client_for(tmp_path, server)
    reply = post_mms(client, server)
    assert "请描述" in reply
    assert len(server.requests) == 1 and server.requests[0].path == MEDIA_PATH
    with transaction(runtime.sessions) as session:
        attachment = session.scalar(select(Attachment))
        assert attachment.size == len(photo) and attachment.mime == "image/jpeg"
        row = session.scalar(select(InboundMessage))
        assert row.kind == "photo"
        assert row.payload["raw"]["media"][0]["status"] == "fetched"
        assert row.payload["raw"]["twilio"]["MediaUrl0"].endswith(MEDIA_PATH)
    post_mms(client, server)  # Twilio's retry: the stored reply, no second download
    assert len(server.requests) == 1


def test_credentials_are_not_sent_to_other_hosts(tmp_path, local_server):
    server = media_store(local_server, jpeg())
    runtime = make_runtime(tmp_path / "var", GRIDINTAKE_TWILIO_AUTH_TOKEN=TOKEN,
                           GRIDINTAKE_TWILIO_ACCOUNT_SID=ACCOUNT,  # API base: api.twilio.com
                           GRIDINTAKE_SMS_MEDIA_HOSTS="127.0.0.1")
    reply = post_mms(create_app(runtime).test_client(), server)
    assert server.requests[0].headers.get("Authorization") is None
    assert "照片无法读取" in reply


def test_oversized_media_is_refused_with_a_clear_reply(tmp_path, local_server):
    server = media_store(local_server, jpeg((800, 600)))
    runtime, client = client_for(tmp_path, server, GRIDINTAKE_BOT_MAX_PHOTO_BYTES="2000")
    assert "照片无法读取" in post_mms(client, server)
    with transaction(runtime.sessions) as session:
        assert session.scalar(select(Attachment)) is None
        row = session.scalar(select(InboundMessage))
        assert "limit" in row.payload["raw"]["media"][0]["status"]


def test_media_that_is_not_an_image_is_refused(tmp_path, local_server):
    server = media_store(local_server, b"%PDF-1.4 not a photo", mime="image/jpeg")
    runtime, client = client_for(tmp_path, server)
    assert "照片无法读取" in post_mms(client, server)
    with transaction(runtime.sessions) as session:
        assert session.scalar(select(Attachment)) is None


def test_non_image_media_is_not_downloaded(tmp_path, local_server):
    server = media_store(local_server, b"BEGIN:VCARD", mime="text/vcard")
    _, client = client_for(tmp_path, server)
    reply = post_mms(client, server, body="淇滨大道与九州路交叉口的井盖坏了", mime="text/vcard")
    assert server.requests == [] and "回复1提交" in reply


def test_mms_over_the_rate_limit_is_kept_with_its_media_urls_but_not_downloaded(
        tmp_path, local_server):
    server = media_store(local_server, jpeg())
    runtime, client = client_for(tmp_path, server, GRIDINTAKE_LIMITS_PER_SENDER="1/minute")
    post_mms(client, server, sid="MM1")
    reply = post_mms(client, server, body="又一张", sid="MM2")
    assert "发送得太快" in reply
    assert len(server.requests) == 1  # only the first photo was fetched
    with transaction(runtime.sessions) as session:
        kept = session.scalar(select(InboundMessage).where(InboundMessage.idempotency_key == "MM2"))
        assert (kept.status, kept.error, kept.text) == ("rejected", "rate limited", "又一张")
        assert kept.payload["raw"]["twilio"]["MediaUrl0"].endswith(MEDIA_PATH)
