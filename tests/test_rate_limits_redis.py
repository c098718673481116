"""Per-sender rate limits with Redis configured are shared by every process (gunicorn workers, the
polling bot across restarts); with Redis down, each process falls back to in-process limits
(one warning a minute) and no message is lost."""

from __future__ import annotations

import re
import uuid

import pytest
from sqlalchemy import func, select

from bot.handlers.telegram.handler import build_application
from gateway.app import create_app
from storage.db import transaction
from storage.models import InboundMessage
from tests.conftest import make_runtime
from tests.support.services import require_redis
from tests.support.sms import TOKEN, Texter

REDIS = "redis://127.0.0.1:6379/0"
DOWN = "redis://127.0.0.1:1/0"  # nothing listens there
TOO_FAST = "您发送得太快了，请稍后再试。"


@pytest.fixture(scope="module", autouse=True)
def redis_up() -> None:
    require_redis(REDIS)


def inbound_count(runtime) -> int:
    with transaction(runtime.sessions) as session:
        return session.scalar(select(func.count(InboundMessage.id)))


def sms_reply(texter: Texter, body: str) -> str:
    [message] = re.findall(r"<Message>(.*?)</Message>", texter.say(body), re.S)
    return message


@pytest.mark.parametrize(("storage", "shared"), [(REDIS, True), ("memory://", False)])
def test_sms_limit_is_shared_by_two_workers_only_through_redis(tmp_path, storage, shared):
    runtime = make_runtime(tmp_path / "var", GRIDINTAKE_TWILIO_AUTH_TOKEN=TOKEN,
                           GRIDINTAKE_LIMITS_PER_SENDER="3/minute",
                           GRIDINTAKE_RATE_LIMIT_STORAGE=storage)
    phone = f"+86139{uuid.uuid4().int % 10**8:08d}"
    worker_a, worker_b = (Texter(create_app(runtime).test_client(), phone=phone) for _ in range(2))
    worker_b.n = 100  # distinct MessageSids
    replies = [sms_reply(worker_a, "帮助"), sms_reply(worker_a, "帮助"), sms_reply(worker_b, "帮助"),
               sms_reply(worker_b, "帮助")]
    assert TOO_FAST not in "".join(replies[:3])
    assert (replies[3] == TOO_FAST) is shared
    runtime.db.dispose()


def test_sms_with_redis_down_falls_back_to_in_process_limits(tmp_path, caplog):
    runtime = make_runtime(tmp_path / "var", GRIDINTAKE_TWILIO_AUTH_TOKEN=TOKEN,
                           GRIDINTAKE_LIMITS_PER_SENDER="1/minute", GRIDINTAKE_RATE_LIMIT_STORAGE=DOWN)
    texter = Texter(create_app(runtime).test_client())
    with caplog.at_level("WARNING", logger="bot.rate_limits"):
        replies = [sms_reply(texter, "帮助") for _ in range(4)]
    assert TOO_FAST not in replies[0] and replies[1:] == [TOO_FAST] * 3
    assert inbound_count(runtime) == 4  # the refused ones kept too
    warnings = [r for r in caplog.records if r.name == "bot.rate_limits"]
    assert len(warnings) == 1 and "in-process limits" in warnings[0].getMessage()
    assert not any(r.exc_info for r in warnings)
    runtime.db.dispose()


@pytest.mark.emulator
def test_telegram_limit_in_redis_outlives_a_bot_restart(tg, tmp_path):
    runtime = make_runtime(tmp_path / "var", GRIDINTAKE_LIMITS_PER_SENDER="2/minute",
                           GRIDINTAKE_RATE_LIMIT_STORAGE=REDIS)
    resident = tg.resident(user_id=uuid.uuid4().int % 10**9 + 10**9)  # fresh key in Redis
    with tg.run(build_application(runtime, tg.application_builder())):
        resident.send_text("/help")
        resident.send_text("/help")
        assert TOO_FAST not in [r.text for r in resident.wait_replies(2, timeout=30)]
    with tg.run(build_application(runtime, tg.application_builder())):
        resident.send_text("/help")
        assert resident.wait_reply(10).text == TOO_FAST
    assert inbound_count(runtime) == 3  # the refused one kept too
    runtime.db.dispose()


@pytest.mark.emulator
def test_telegram_with_redis_down_falls_back_to_in_process_limits(tg, resident, tmp_path):
    runtime = make_runtime(tmp_path / "var", GRIDINTAKE_LIMITS_PER_SENDER="1/minute",
                           GRIDINTAKE_RATE_LIMIT_STORAGE=DOWN)
    with tg.run(build_application(runtime, tg.application_builder())):
        resident.send_text("/help")
        resident.send_text("/help")
        replies = [r.text for r in resident.wait_replies(2, timeout=30)]
        assert TOO_FAST not in replies[0] and replies[1] == TOO_FAST
    assert inbound_count(runtime) == 2
    runtime.db.dispose()
