"""The WeChat Official Account channel over real HTTP: verification, every message and event
kind as WeChat documents it, plaintext and safe mode, retries, late answers."""

from __future__ import annotations

import re
import time

import httpx
import pytest
from sqlalchemy import func, select

from bot.i18n import t
from gateway.forwarding.worker import Worker
from geo.coords import gcj02_to_wgs84
from storage.db import transaction
from storage.models import Case, InboundMessage, Outbox, Reporter
from tests.conftest import make_runtime
from tests.support.processes import wait_for
from tests.support.serve import serving
from tests.support.wechat import Follower, jpeg, message_xml, signed_query, wechat_env

NUMBER = re.compile(r"GI-\d{8}-\d{6}")
IMAGE_MEDIA = "Yx1_9QxyOYmQ3Zq3kM1Rk0mPc-2m4V5jR7vQ0yN8xW2aT6uL3bH9sD4fG1kJ0pZ"


def stored(runtime) -> list[InboundMessage]:
    with transaction(runtime.sessions) as session:
        return session.scalars(select(InboundMessage).order_by(InboundMessage.id)).all()


def test_server_verification_echoes_only_a_signed_request(gateway_url, wechat_runtime):
    url = gateway_url + "/wechat"
    ok = httpx.get(url, params=signed_query(echostr="5837397520912340000"))
    assert (ok.status_code, ok.text) == (200, "5837397520912340000")
    forged = httpx.get(url, params=signed_query(token="not-our-token", echostr="1"))
    assert forged.status_code == 403
    assert httpx.get(url, params={"echostr": "1"}).status_code == 400
    forged_post = httpx.post(url, params=signed_query(token="nope"), content=message_xml("text.xml"))
    assert forged_post.status_code == 403 and stored(wechat_runtime) == []


@pytest.mark.parametrize("safe", [False, True], ids=["plaintext", "safe-mode"])
def test_follow_report_and_file_a_case(gateway_url, wechat_runtime, safe):
    resident = Follower(gateway_url, safe=safe)
    welcome = resident.reply(resident.post("event_subscribe.xml"))
    assert welcome == t("welcome", "zh", city=wechat_runtime.settings.bot.city)
    asked = resident.say("淇滨大道与九州路交叉口的井盖坏了")
    assert "回复1提交" in asked
    number = NUMBER.search(resident.say("1")).group()
    with transaction(wechat_runtime.sessions) as session:
        case = session.scalar(select(Case).where(Case.number == number))
        assert (case.reporter.channel, case.reporter.channel_user_id) == ("wechat", resident.openid)
    assert [r.kind for r in stored(wechat_runtime)] == ["command", "text", "text"]


def test_safe_mode_refuses_a_wrong_message_signature(gateway_url, wechat_runtime):
    resident = Follower(gateway_url, safe=True)
    query = signed_query(encrypt_type="aes", msg_signature="0" * 40)
    body = "<xml><ToUserName>gh_3f1b2c4d5e6f</ToUserName><Encrypt>AAAA</Encrypt></xml>"
    assert httpx.post(resident.url, params=query, content=body).status_code == 403
    assert stored(wechat_runtime) == []


def test_a_retried_message_is_stored_once_and_answered_alike(gateway_url, wechat_runtime):
    resident = Follower(gateway_url)
    first = resident.reply(resident.post("text.xml", MsgId="24652130817289999", Content="帮助"))
    again = resident.reply(resident.post("text.xml", MsgId="24652130817289999", Content="帮助"))
    assert first == again == t("help", "zh")
    event = resident.reply(resident.post("event_subscribe.xml"))
    assert resident.reply(resident.post("event_subscribe.xml")) == event
    assert [r.idempotency_key for r in stored(wechat_runtime)] == [
        "24652130817289999", f"{resident.openid}:1764921500:subscribe"]


def test_an_image_is_fetched_with_media_get_and_kept_as_the_reports_photo(
        gateway_url, wechat_runtime, wechat_api):
    wechat_api.media[IMAGE_MEDIA] = (jpeg(), "image/jpeg")
    resident = Follower(gateway_url)
    resident.say("淇滨大道与九州路交叉口的井盖坏了")
    assert resident.reply(resident.post("image.xml")) == t("photo_added", "zh") + _choices("1 提交", "0 取消")
    row = stored(wechat_runtime)[-1]
    assert row.kind == "photo" and row.payload["photo_key"]
    fetched = [r for r in wechat_api.server.requests if r.path.startswith("/cgi-bin/media/get")]
    assert len(fetched) == 1 and "access_token=ACCESS_TOKEN_1" in fetched[0].path


def _choices(*labels: str) -> str:
    return "".join(f'\n<a href="weixin://bizmsgmenu?msgmenucontent={label.split()[0]}&msgmenuid={i}">'
                   f"{label}</a>" for i, label in enumerate(labels, 1))


def test_an_image_over_the_limit_or_gone_is_asked_for_again(gateway_url, wechat_runtime, wechat_api):
    limit = wechat_runtime.settings.bot.max_photo_bytes
    wechat_api.media[IMAGE_MEDIA] = (b"\xff" * (limit + 1), "image/jpeg")
    resident = Follower(gateway_url)
    bad = t("bad_photo", "zh", mb=wechat_runtime.settings.bot.max_photo_mb)
    assert resident.reply(resident.post("image.xml")) == bad
    assert resident.reply(resident.post("image.xml", MediaId="expired-media-id")) == bad


def test_a_pin_is_taken_from_gcj02_as_wgs84(gateway_url, wechat_runtime):
    resident = Follower(gateway_url)
    answer = resident.reply(resident.post("location.xml"))
    assert answer.startswith("已收到位置")
    row = stored(wechat_runtime)[-1]
    assert row.kind == "location"
    assert row.payload["location"] == pytest.approx(list(gcj02_to_wgs84(35.746855, 114.303412)))


def test_voice_uses_the_recognition_text_or_asks_for_words(gateway_url, wechat_runtime):
    resident = Follower(gateway_url)
    heard = resident.reply(resident.post("voice.xml"))
    assert stored(wechat_runtime)[-1].text == "淇滨大道路灯不亮了" and heard
    unheard = resident.reply(resident.post("voice.xml", Recognition=""))
    assert unheard == t("wechat_voice_text", "zh")
    assert stored(wechat_runtime)[-1].status == "rejected"
    assert resident.reply(resident.post("video.xml")) == t("not_text", "zh")


def test_menu_clicks_are_commands_and_location_reports_are_only_kept(gateway_url, wechat_runtime):
    resident = Follower(gateway_url)
    assert resident.reply(resident.post("event_click.xml")) == t("ask_problem", "zh")
    mine = resident.reply(resident.post("event_click.xml", EventKey="MY_CASES", CreateTime="1764921541"))
    assert mine == t("my_cases_none", "zh")
    assert resident.reply(resident.post("event_location.xml")) == ""
    kept = stored(wechat_runtime)[-1]
    assert (kept.status, kept.replies) == ("processed", [])
    assert kept.payload["raw"]["wechat"]["Latitude"] == "35.746855"


def test_unfollow_stops_messages_until_followed_again(gateway_url, wechat_runtime):
    resident = Follower(gateway_url)
    resident.say("帮助")
    assert resident.reply(resident.post("event_unsubscribe.xml")) == ""

    def unreachable() -> bool:
        with transaction(wechat_runtime.sessions) as session:
            return session.scalar(select(Reporter.unreachable).where(Reporter.channel == "wechat"))

    assert unreachable()
    resident.post("event_subscribe.xml", CreateTime="1764925200")
    assert not unreachable()


@pytest.mark.parametrize("body", ["not xml", "<xml><MsgType>text</MsgType></xml>",
                                  message_xml("location.xml", Location_X="north")])
def test_malformed_messages_get_400_and_are_not_stored(gateway_url, wechat_runtime, body):
    resp = httpx.post(gateway_url + "/wechat", params=signed_query(), content=body.encode())
    assert resp.status_code == 400 and stored(wechat_runtime) == []


def test_an_answer_after_the_5_seconds_goes_as_a_customer_service_message(tmp_path, wechat_api):
    runtime = make_runtime(tmp_path / "slow",
                           **wechat_env(wechat_api, GRIDINTAKE_WECHAT_REPLY_WITHIN_S="0.5"))
    wechat_api.media[IMAGE_MEDIA] = (jpeg(), "image/jpeg")
    wechat_api.media_delay_s = 1.5
    with serving(runtime) as url:
        resident = Follower(url)
        started = time.monotonic()
        assert resident.reply(resident.post("image.xml")) == ""
        assert time.monotonic() - started < 1.4
        assert [r.status for r in stored(runtime)] == ["received"]  # stored before "success"
        wait_for("the late replies in the outbox", lambda: _late_rows(runtime))
    assert Worker(runtime).run_once()["done"] == 1
    sent = wechat_api.posted["message/custom/send"]
    assert [(m["touser"], m["msgtype"]) for m in sent] == [(resident.openid, "text")]
    assert sent[0]["text"]["content"] == t("ask_problem", "zh")
    assert stored(runtime)[0].status == "processed"
    runtime.db.dispose()


def _late_rows(runtime) -> int:
    with transaction(runtime.sessions) as session:
        return session.scalar(select(func.count(Outbox.id)).where(Outbox.sink == "wechat"))
