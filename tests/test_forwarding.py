"""Outbox and worker against a real loopback receiver, on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import random
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import jsonschema
import pytest
from sqlalchemy import func, select, update

from bot.oneshot import file_report
from bot.signing import HEADER, verify
from cases.document import case_schema
from cases.overdue import mark_overdue
from cases.platform import Platform
from gateway.cli import main as cli
from gateway.forwarding.worker import Worker, backoff_delay
from storage.db import transaction
from storage.models import Case, CaseEvent, Outbox, utcnow
from storage.states import OutboxStatus
from tests.conftest import make_runtime
from tests.forwarding_fixtures import WEBHOOK_SECRET, runtime_env

REPO = Path(__file__).resolve().parent.parent


def _rows(env, **where) -> list[Outbox]:
    with transaction(env.runtime.sessions) as session:
        return list(session.scalars(select(Outbox).filter_by(**where).order_by(Outbox.id)))


def test_case_reaches_the_webhook_once_signed_and_valid(fwd):
    number = fwd.file()
    assert fwd.drain()["done"] == 1
    assert fwd.drain() == {"done": 0, "retry": 0, "dead": 0, "unreachable": 0}
    [seen] = fwd.receiver.webhook("case.created")
    # The signature is what the contract says: hmac-sha256 of "<t>.<body>".
    parts = dict(p.split("=", 1) for p in seen.headers[HEADER].split(","))
    expected = hmac.new(WEBHOOK_SECRET.encode(), f"{parts['t']}.".encode() + seen.body,
                        hashlib.sha256).hexdigest()
    assert parts["v1"] == expected
    verify(WEBHOOK_SECRET, seen.headers[HEADER], seen.body)
    body = seen.json()
    assert body["idempotency_key"] == seen.headers["Idempotency-Key"] == f"webhook:case:{number}"
    document = body["case"]
    jsonschema.Draft202012Validator(case_schema(), format_checker=jsonschema.FormatChecker()).validate(
        document)
    assert document["number"] == number
    assert document["category"]["minor"] == "0101" and document["category"]["kind"] == "component"
    assert document["grid"]["code"] == "41061100100101"
    assert document["routing"]["principle"] == "owner"
    assert document["reporter"]["phone"] == "13812345678"  # consent given
    gcj = document["location"]["gcj02"]
    assert 0.0005 < abs(gcj["lon"] - document["location"]["wgs84"]["lon"]) < 0.01  # shifted
    [row] = _rows(fwd, sink="webhook")
    assert row.status == "done" and row.attempts == 1 and row.delivered_at is not None


def test_event_routing_and_masked_contact_without_consent(fwd):
    number = fwd.file("路边堆着暴露垃圾没人清", label="event:0102", consent=False, sender="2002")
    fwd.drain()
    document = fwd.receiver.webhook("case.created")[0].json()["case"]
    jsonschema.validate(document, case_schema())
    assert document["number"] == number
    assert document["routing"] == {"principle": "territory", "department": "区市容环境卫生管理处",
                                   "street": "九州路街道", "community": "桃园社区"}
    assert document["time_limit_hours"] == 4
    assert document["reporter"] == {"consent": False, "name": None, "phone": "138****5678",
                                    "channel": "telegram"}


def test_server_errors_are_retried_with_the_same_key(fwd):
    fwd.receiver.plan = [500, 503]
    fwd.file()
    counts = fwd.drain()
    assert counts["done"] == 1 and counts["retry"] == 2
    keys = [s.headers["Idempotency-Key"] for s in fwd.receiver.webhook()]
    assert len(keys) == 3 and len(set(keys)) == 1
    assert len({s.body for s in fwd.receiver.webhook()}) == 1  # byte-identical re-deliveries
    [row] = _rows(fwd, sink="webhook")
    assert row.status == "done" and row.attempts == 3


def test_timeouts_are_retried(fwd):
    fwd.receiver.plan, fwd.receiver.hang_s = ["hang"], 1.5
    fwd.file()
    counts = fwd.drain(timeout_s=0.3)
    assert counts == {"done": 1, "retry": 1, "dead": 0, "unreachable": 0}
    [row] = _rows(fwd, sink="webhook")
    assert row.status == "done" and row.attempts == 2


def test_dead_letter_after_the_limit_then_retry_from_the_cli(fwd, monkeypatch, capsys):
    fwd.receiver.plan = [500] * 3
    fwd.file()
    assert fwd.drain(max_attempts=3)["dead"] == 1
    assert len(fwd.receiver.webhook()) == 3
    for name, value in {**runtime_env(fwd.receiver),
                        "GRIDINTAKE_DATABASE_URL": fwd.runtime.config.database_url,
                        "GRIDINTAKE_DATA_DIR": str(fwd.runtime.config.data_dir)}.items():
        monkeypatch.setenv(name, value)
    capsys.readouterr()
    assert cli(["outbox", "list", "--dead"]) == 0
    [dead] = json.loads(capsys.readouterr().out)["rows"]
    assert dead["status"] == "dead" and dead["attempts"] == 3 and "HTTP 500" in dead["last_error"]
    assert cli(["outbox", "retry", str(dead["id"])]) == 0
    assert json.loads(capsys.readouterr().out)["status"] == "pending"
    assert cli(["worker", "--once"]) == 0
    assert json.loads(capsys.readouterr().out)["done"] == 1
    assert fwd.receiver.delivered_keys()[dead["idempotency_key"]] == 1
    assert cli(["outbox", "list", "--dead"]) == 0
    assert json.loads(capsys.readouterr().out) == {"total": 0, "rows": []}


def test_client_errors_are_dead_at_once(fwd):
    fwd.receiver.plan = [400]
    fwd.file()
    assert fwd.drain()["dead"] == 1
    assert len(fwd.receiver.webhook()) == 1


def test_backoff_waits_before_the_next_attempt(fwd):
    fwd.receiver.plan = [500]
    fwd.file()
    before = utcnow()
    assert fwd.drain(backoff_base_s=60)["retry"] == 1
    [row] = _rows(fwd, sink="webhook")
    wait = (row.next_attempt_at - before).total_seconds()
    assert 30 <= wait <= 61  # equal jitter: between half and all of the first step
    assert fwd.drain(backoff_base_s=60)["retry"] == 0  # not due yet: nothing sent
    assert len(fwd.receiver.webhook()) == 1


def test_backoff_is_exponential_with_jitter():
    rng = random.Random(7)
    for attempts in range(1, 8):
        step = min(600, 2 * 2 ** (attempts - 1))
        delays = [backoff_delay(attempts, 2, 600, rng) for _ in range(50)]
        assert all(step / 2 <= d <= step for d in delays)
        assert len({round(d, 6) for d in delays}) > 40  # jittered, not one fixed value


def test_each_idempotency_key_is_delivered_once_across_runs(fwd):
    numbers = [fwd.file(f"井盖坏了 {i}", lat=35.70 + i * 0.01, sender=str(i)) for i in range(12)]
    fwd.drain(batch_size=5)
    fwd.drain(batch_size=5)
    assert fwd.receiver.delivered_keys() == {f"webhook:case:{n}": 1 for n in numbers}


def test_in_doubt_resident_messages_are_not_sent_twice(fwd):
    """A worker that died while sending to a resident: the row is parked, not re-sent."""
    from cases.status import apply_status

    number = fwd.file()
    fwd.drain()
    with transaction(fwd.runtime.sessions) as session:
        apply_status(session, session.scalar(select(Case).filter_by(number=number)), "filed")
    [row] = _rows(fwd, sink="telegram")
    with transaction(fwd.runtime.sessions) as session:
        session.execute(update(Outbox).where(Outbox.id == row.id).values(
            locked_by="dead-worker#sending", locked_until=utcnow() - timedelta(seconds=1)))
    fwd.drain()
    assert fwd.residents.sent == []
    [row] = _rows(fwd, sink="telegram")
    assert row.status == "dead" and row.last_error.startswith("in doubt")


def test_overdue_cases_get_an_event_and_a_platform_notice_once(fwd):
    late = fwd.file(sender="late")
    fresh = fwd.file("路灯不亮", label="event:0102", lat=35.80, sender="fresh")
    with transaction(fwd.runtime.sessions) as session:
        session.execute(update(Case).where(Case.number == late)
                        .values(due_at=utcnow() - timedelta(hours=2)))
    platform = Platform(fwd.runtime.settings.platform, fwd.runtime.tree)
    with transaction(fwd.runtime.sessions) as session:
        assert mark_overdue(session, platform) == [late]
    with transaction(fwd.runtime.sessions) as session:
        assert mark_overdue(session, platform) == []
    fwd.drain()
    [notice] = fwd.receiver.webhook("case.overdue")
    assert notice.json()["number"] == late
    case = fwd.case(late)
    assert case.overdue and [e.status for e in case.events][-1] == "overdue"
    assert not fwd.case(fresh).overdue


def test_outbox_rows_commit_with_their_case(fwd):
    """A failing listener rolls back the case and its deliveries together."""
    def boom(session, case):
        raise RuntimeError("listener failed")

    fwd.intake.listeners.append(boom)
    with pytest.raises(RuntimeError):
        fwd.file()
    with transaction(fwd.runtime.sessions) as session:
        assert session.scalar(select(func.count()).select_from(Case)) == 0
        assert session.scalar(select(func.count()).select_from(Outbox)) == 0
        assert session.scalar(select(func.count()).select_from(CaseEvent)) == 0


def test_the_worker_command_runs_until_terminated(fwd, tmp_path):
    """`gridintake worker` keeps delivering new rows and stops cleanly on SIGTERM."""
    env = {**os.environ, **runtime_env(fwd.receiver),
           "GRIDINTAKE_DATABASE_URL": fwd.runtime.config.database_url,
           "GRIDINTAKE_DATA_DIR": str(fwd.runtime.config.data_dir)}
    worker = subprocess.Popen([sys.executable, "-m", "gateway.cli", "worker"], cwd=REPO, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        number = fwd.file()
        assert fwd.receiver.received.wait(30), "the running worker delivered nothing"
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and _rows(fwd, sink="webhook")[0].status != "done":
            time.sleep(0.1)
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(15) == 0
    finally:
        if worker.poll() is None:
            worker.kill()
    assert fwd.receiver.delivered_keys() == {f"webhook:case:{number}": 1}
    assert _rows(fwd, sink="webhook")[0].status == "done"


def test_the_noop_sink_marks_each_case_forwarded_without_sending(tmp_path):
    """`[forwarding] noop = true`: a city without a platform still sees, in the outbox, every
    case the platform would get, delivered at once by the no-op sink."""
    runtime = make_runtime(tmp_path / "var", GRIDINTAKE_FORWARDING_NOOP="true")
    case = file_report(runtime, text="淇滨大道与九州路交叉口的井盖坏了")
    worker = Worker(runtime)
    try:
        assert worker.run_once() == {"done": 1, "retry": 0, "dead": 0, "unreachable": 0}
    finally:
        worker.close()
    with transaction(runtime.sessions) as session:
        [row] = session.scalars(select(Outbox)).all()
        assert (row.sink, row.idempotency_key) == ("noop", f"noop:case:{case['number']}")
        assert row.status == OutboxStatus.DONE and row.result == {"sent": False}
    runtime.db.dispose()
