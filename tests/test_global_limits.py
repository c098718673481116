"""Limits across processes and hosts: per-sender limits kept in memory are divided among the
gateway's workers (and `serve` warns), and Telegram's pacing (≤ 30 sends a second per bot, one a
second per chat, a 429 pause) holds across processes when it is kept in Redis."""

from __future__ import annotations

import itertools
import re
import threading
import time
import uuid

import pytest
from limits import parse

from bot.handlers.telegram.outbound import Pacer, pacer_for
from bot.rate_limits import SharedPacer, memory_limit_warning, per_process
from cases.outbox import enqueue
from gateway.app import create_app
from gateway.forwarding.worker import Worker
from settings.typed import LimitSettings
from storage.db import transaction
from tests.conftest import make_runtime
from tests.support.services import REDIS_URL, require_redis
from tests.support.sms import ACCOUNT, TOKEN, Texter, twilio_api

TOO_FAST = "您发送得太快了，请稍后再试。"


def _refused(texter: Texter) -> bool:
    [message] = re.findall(r"<Message>(.*?)</Message>", texter.say("帮助"), re.S)
    return message == TOO_FAST


def test_in_memory_each_of_two_workers_allows_half_so_together_they_allow_the_limit(tmp_path):
    runtime = make_runtime(tmp_path / "var", GRIDINTAKE_TWILIO_AUTH_TOKEN=TOKEN,
                           GRIDINTAKE_LIMITS_PER_SENDER="4/minute", GRIDINTAKE_LIMITS_PROCESSES="2")
    worker_a, worker_b = (Texter(create_app(runtime).test_client(), phone="+8613900000077")
                          for _ in range(2))
    worker_b.n = 100
    assert [_refused(worker_a) for _ in range(3)] == [False, False, True]
    assert [_refused(worker_b) for _ in range(3)] == [False, False, True]
    runtime.db.dispose()


def test_serve_warns_when_limits_are_kept_per_process():
    memory = LimitSettings("20/minute", "memory://")
    warning = memory_limit_warning(memory, 2)
    assert warning and "10 of 20/minute" in warning and "redis://" in warning
    assert memory_limit_warning(memory, 1) is None
    assert memory_limit_warning(LimitSettings("20/minute", REDIS_URL), 4) is None
    assert per_process(parse("3/minute"), 4).amount == 1  # never zero


@pytest.fixture
def redis_url() -> str:
    require_redis(REDIS_URL)
    return REDIS_URL


def _paced(pacers, chats, per_thread) -> list[float]:
    """Sends from two threads per pacer (each pacer a process of its own); the times they went."""
    sent: list[float] = []
    lock = threading.Lock()

    def run(pacer, offset):
        for n in range(per_thread):
            pacer.wait(chats[(offset + n) % len(chats)])
            with lock:
                sent.append(time.monotonic())

    threads = [threading.Thread(target=run, args=(p, i * per_thread))
               for i, p in enumerate([*pacers, *pacers])]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return sorted(sent)


def test_shared_pacing_keeps_every_process_of_a_bot_under_30_a_second(redis_url):
    name = f"telegram:{uuid.uuid4().hex[:8]}"
    pacers = [SharedPacer(redis_url, name, 30, 1.0) for _ in range(2)]
    started = time.monotonic()
    sent = _paced(pacers, [str(chat) for chat in range(1000, 1200)], per_thread=23)
    assert len(sent) == 92
    assert sent[-1] - started > 2.0  # 92 sends need at least three windows
    busiest = max(sum(1 for t in sent[i:] if t - s < 0.9) for i, s in enumerate(sent))
    assert busiest <= 30
    in_process = [Pacer(30, 1.0) for _ in range(2)]  # what two processes did before: 60 a second
    sent = _paced(in_process, [str(chat) for chat in range(1000, 1200)], per_thread=15)
    assert max(sum(1 for t in sent[i:] if t - s < 0.9) for i, s in enumerate(sent)) > 30


def test_shared_pacing_sends_one_a_second_to_a_chat_and_honours_a_pause(redis_url):
    name = f"telegram:{uuid.uuid4().hex[:8]}"
    a, b = (SharedPacer(redis_url, name, 30, 1.0) for _ in range(2))
    sent = _paced([a, b], ["42"], per_thread=1)  # four sends to one chat from two processes
    assert all(later - earlier > 0.9 for earlier, later in itertools.pairwise(sent))
    a.pause(0.6)  # a 429 seen by one process holds the other one too
    started = time.monotonic()
    b.wait("43")
    assert time.monotonic() - started >= 0.5


def test_telegram_uses_the_shared_pacer_when_limits_are_in_redis(tmp_path, redis_url):
    shared = make_runtime(tmp_path / "a", GRIDINTAKE_RATE_LIMIT_STORAGE=redis_url)
    local = make_runtime(tmp_path / "b")
    assert isinstance(pacer_for(shared, "123:abc"), SharedPacer)
    assert isinstance(pacer_for(local, "123:abc"), Pacer)
    for runtime in (shared, local):
        runtime.db.dispose()


def test_sms_sends_keep_the_city_wide_pace_kept_in_redis(tmp_path, redis_url, local_server):
    api = twilio_api(local_server)
    runtime = make_runtime(tmp_path / "var", GRIDINTAKE_TWILIO_AUTH_TOKEN=TOKEN,
                           GRIDINTAKE_TWILIO_ACCOUNT_SID=ACCOUNT, GRIDINTAKE_TWILIO_FROM="+14155550100",
                           GRIDINTAKE_TWILIO_API_BASE=api.url, GRIDINTAKE_RATE_LIMIT_STORAGE=redis_url,
                           GRIDINTAKE_SMS_PER_SECOND="2")
    with transaction(runtime.sessions) as session:
        for n in range(6):
            enqueue(session, sink="sms", target=f"+86138{uuid.uuid4().int % 10**8:08d}", key=f"p{n}",
                    payload={"text": "您的案件已办结。", "language": "zh"})
    workers = [Worker(runtime) for _ in range(2)]  # two workers draining one outbox
    started = time.monotonic()
    done = 0
    while done < 6 and time.monotonic() - started < 30:
        done += sum(worker.run_once()["done"] for worker in workers)
    assert done == 6 and len(api.requests) == 6
    assert time.monotonic() - started > 2.0  # 6 texts at 2 a second need three windows
    for worker in workers:
        worker.close()
    runtime.db.dispose()
