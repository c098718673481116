"""The whole status loop with real parts: a case filed in a Telegram conversation (Bot API
emulator) and one filed over SMS (signed Twilio webhook) are forwarded by the worker to a loopback
"city platform"; its signed status callbacks (dispatched → closed) come back through the API; the
worker then tells the residents — the Telegram resident through the emulator, the SMS resident
through the stand-in for Twilio's REST API — and the Telegram resident's rating goes back."""

from __future__ import annotations

import re
from urllib.parse import parse_qs

import pytest
from sqlalchemy import select

from bot.handlers.telegram.handler import build_application
from bot.signing import HEADER, verify
from gateway.app import create_app
from gateway.forwarding.worker import Worker
from storage.db import transaction
from storage.models import Case
from tests.conftest import make_runtime
from tests.forwarding_fixtures import WEBHOOK_SECRET, post_event, runtime_env
from tests.support.sms import ACCOUNT, TOKEN, Texter, twilio_api
from tests.support.telegram import NUMBER, report

pytestmark = pytest.mark.emulator
PHONE = "+8613800005678"


@pytest.fixture
def loop(tmp_path, tg, receiver, local_server):
    """One gateway: Telegram via the emulator, Twilio REST via a local stand-in, webhook sink
    pointed at the receiver, real senders in place."""
    twilio = twilio_api(local_server)
    runtime = make_runtime(
        tmp_path / "var", GRIDINTAKE_TELEGRAM_TOKEN=tg.token,
        GRIDINTAKE_TELEGRAM_BASE_URL=tg.api.base_url, GRIDINTAKE_BOT_CONFIRM_BELOW="1.01",
        GRIDINTAKE_TWILIO_AUTH_TOKEN=TOKEN, GRIDINTAKE_TWILIO_ACCOUNT_SID=ACCOUNT,
        GRIDINTAKE_TWILIO_FROM="+14155550100", GRIDINTAKE_TWILIO_API_BASE=twilio.url,
        **runtime_env(receiver))
    worker = Worker(runtime)
    yield runtime, worker, twilio
    worker.close()
    runtime.db.dispose()


def _file_by_sms(texter: Texter) -> str:
    """Describe the problem, then answer the questions (pick 1 / give the place) until filed."""
    reply = texter.say("路灯不亮了，晚上很黑")
    for _ in range(5):
        if NUMBER.search(reply):
            return NUMBER.search(reply).group()
        question = re.findall(r"<Message>(.*?)</Message>", reply, re.S)[-1]
        reply = texter.say("1" if re.search(r"回复1|^1 ", question, re.M) else "华夏南路与黎阳路交叉口")
    raise AssertionError(f"the SMS conversation did not file a case: {reply}")


def _sms_sent(twilio) -> list[dict[str, str]]:
    return [{k: v[0] for k, v in parse_qs(seen.body.decode()).items()}
            for seen in twilio.requests if seen.method == "POST"]


def test_status_loop_from_telegram_and_sms_to_the_platform_and_back(tg, resident, receiver, loop):
    runtime, worker, twilio = loop
    api = create_app(runtime).test_client()
    with tg.run(build_application(runtime, tg.application_builder())):
        _, tg_number = report(resident)
        texter = Texter(api, phone=PHONE)
        sms_number = _file_by_sms(texter)

        # Forwarded once each, signed.
        worker.run_once()
        created = receiver.webhook("case.created")
        assert sorted(s.json()["case"]["number"] for s in created) == sorted([tg_number, sms_number])
        for seen in created:
            verify(WEBHOOK_SECRET, seen.headers[HEADER], seen.body)

        # The platform reports progress and closure for both.
        for number in (tg_number, sms_number):
            assert post_event(api, number,
                              {"status": "dispatched", "department": "市路灯管理所"}).status_code == 200
            assert post_event(api, number, {"status": "closed", "note": "已更换灯泡"}).status_code == 200
        worker.run_once()

        progress = resident.wait_reply()
        assert tg_number in progress.text and "市路灯管理所" in progress.text
        # Closure and the rating request are one message (one SMS segment on SMS).
        closure = resident.wait_reply()
        assert tg_number in closure.text and "办结" in closure.text
        assert [b["callback_data"] for b in closure.inline_buttons] == ["1", "2", "3", "4", "5"]

        resident.send_text("5")
        thanks = resident.wait_reply()
        assert thanks.text == "感谢您的评价！"
        worker.run_once()
    texter.say("4 灯亮了")  # the SMS resident rates too, by text
    worker.run_once()

    with transaction(runtime.sessions) as session:
        case = session.scalar(select(Case).where(Case.number == tg_number))
        assert case.status == "closed" and case.rating == 5
        assert [e.status for e in case.events if e.status in ("dispatched", "closed", "rated")] == \
            ["dispatched", "closed", "rated"]
    ratings = {s.json()["number"]: s.json()["data"]["rating"] for s in receiver.webhook("case.rated")}
    assert ratings == {tg_number: 5, sms_number: 4}
    for seen in receiver.webhook("case.rated"):
        verify(WEBHOOK_SECRET, seen.headers[HEADER], seen.body)

    texts = [m for m in _sms_sent(twilio) if m["To"] == PHONE]
    dispatched, closed = texts[-2:]
    assert sms_number in dispatched["Body"] and "市路灯管理所" in dispatched["Body"]
    assert sms_number in closed["Body"] and "办结" in closed["Body"]
    assert len(receiver.delivered_keys()) == len(receiver.webhook())  # nothing delivered twice
