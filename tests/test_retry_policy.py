"""Retry policy: backoff with jitter capped at an hour, retried for 24 h before a dead letter;
each outcome recorded as soon as its delivery completes (a killed worker resends only the row in
flight); dead letters listed in full, retried in bulk and shown on the dashboard."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import time
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from gateway.admin.users import set_user
from gateway.app import create_app
from gateway.cli import main as cli
from gateway.forwarding.worker import backoff_delay
from storage.db import transaction
from storage.models import Outbox, utcnow
from tests.forwarding_fixtures import build_env, runtime_env
from tests.support.admin import PASSWORD, login
from tests.support.processes import GRIDINTAKE, wait_for


def _rows(env, **filters) -> list[Outbox]:
    with transaction(env.runtime.sessions) as session:
        return list(session.scalars(select(Outbox).filter_by(**filters).order_by(Outbox.id)))


def _age(env, hours: float) -> None:
    with transaction(env.runtime.sessions) as session:
        session.execute(update(Outbox).values(created_at=utcnow() - timedelta(hours=hours)))


def test_backoff_doubles_with_jitter_up_to_an_hour():
    rng = random.Random(7)
    steps = [backoff_delay(n, 2.0, 3600.0, rng) for n in range(1, 40)]
    assert 1.0 <= steps[0] <= 2.0 and 2.0 <= steps[1] <= 4.0
    assert all(1800.0 <= s <= 3600.0 for s in steps[12:])  # capped, still jittered
    assert len({round(s) for s in steps[12:]}) > 20


def test_a_failing_delivery_is_retried_for_a_day_before_it_is_dead(fwd):
    fwd.receiver.plan = [500] * 3
    fwd.file()
    worker = fwd.worker(max_attempts=0, backoff_base_s=3600.0)
    try:
        _age(fwd, 23.5)  # written 23½ hours ago: still within the day
        assert worker.run_once()["retry"] == 1
        [row] = _rows(fwd, sink="webhook")
        assert row.status == "pending" and row.next_attempt_at <= utcnow() + timedelta(hours=1)
        _age(fwd, 24.1)
        with transaction(fwd.runtime.sessions) as session:
            session.execute(update(Outbox).values(next_attempt_at=utcnow()))
        assert worker.run_once()["dead"] == 1
    finally:
        worker.close()
    [row] = _rows(fwd, sink="webhook")
    assert row.status == "dead" and row.attempts == 2 and "HTTP 500" in row.last_error


def _cli_env(env, monkeypatch) -> None:
    for name, value in {**runtime_env(env.receiver),
                        "GRIDINTAKE_DATABASE_URL": env.runtime.config.database_url,
                        "GRIDINTAKE_DATA_DIR": str(env.runtime.config.data_dir)}.items():
        monkeypatch.setenv(name, value)


def test_dead_letters_listed_in_full_and_retried_in_bulk(fwd, monkeypatch, capsys):
    fwd.receiver.plan = [400] * 130  # refused: dead at once
    numbers = [fwd.file(f"井盖坏了{i}", sender=str(i)) for i in range(130)]
    assert fwd.drain()["dead"] == 130
    with transaction(fwd.runtime.sessions) as session:  # 30 of them from two days ago
        old = session.scalars(select(Outbox.id).order_by(Outbox.id).limit(30)).all()
        session.execute(update(Outbox).where(Outbox.id.in_(old))
                        .values(created_at=utcnow() - timedelta(days=2)))
    _cli_env(fwd, monkeypatch)
    capsys.readouterr()
    assert cli(["outbox", "list", "--dead"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert listed["total"] == 130 and len(listed["rows"]) == 130
    assert cli(["outbox", "retry", "--all-dead", "--since", "1d"]) == 0
    assert json.loads(capsys.readouterr().out)["retried"] == 100
    assert fwd.drain()["done"] == 100
    assert cli(["outbox", "retry", "--all-dead"]) == 0
    assert json.loads(capsys.readouterr().out)["retried"] == 30
    assert fwd.drain()["done"] == 30
    assert fwd.receiver.delivered_keys() == {f"webhook:case:{n}": 1 for n in numbers}
    assert cli(["outbox", "list", "--dead"]) == 0
    assert json.loads(capsys.readouterr().out) == {"total": 0, "rows": []}
    assert cli(["outbox", "retry", "--since", "1d"]) == 1  # --since needs --all-dead


def test_dead_letters_on_the_dashboard(tmp_path, receiver):
    env = build_env(tmp_path / "var", None, receiver)
    receiver.plan = [400, 400]
    numbers = [env.file(f"井盖坏了{i}", sender=str(i)) for i in range(2)]
    assert env.drain()["dead"] == 2
    with transaction(env.runtime.sessions) as session:
        set_user(session, "ann", "admin", PASSWORD, "test")
    client = create_app(env.runtime).test_client()
    login(client)
    page = client.get("/admin/dashboard").text
    assert '<b>2</b><span>投递失败 Dead letters</span>' in page
    assert all(n in page for n in numbers) and "HTTP 400" in page
    env.runtime.db.dispose()


@pytest.mark.postgres
@pytest.mark.slow
def test_a_killed_worker_resends_only_the_row_in_flight(tmp_path, postgres_url, receiver):
    env = build_env(tmp_path / "var", postgres_url, receiver)
    numbers = [env.file(f"井盖坏了{i}", sender=str(i)) for i in range(12)]
    receiver.plan, receiver.hang_s = [200] * 7 + ["hang"], 60
    proc = subprocess.Popen([str(GRIDINTAKE), "worker", "--once", "--batch-size", "20", "--lease", "3",
                             "--timeout", "1.5"],
                            env={**os.environ, **runtime_env(receiver),
                                 "GRIDINTAKE_DATABASE_URL": postgres_url,
                                 "GRIDINTAKE_DATA_DIR": str(tmp_path / "var")},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        wait_for("the eighth delivery in flight", lambda: len(receiver.webhook()) == 8, 60)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    done = _rows(env, sink="webhook", status="done")
    assert len(done) == 7  # recorded one by one, not with the batch
    time.sleep(3.2)  # the dead worker's lease runs out
    assert env.drain()["done"] == 5
    delivered = receiver.delivered_keys()
    assert set(delivered) == {f"webhook:case:{n}" for n in numbers}
    twice = [key for key, count in delivered.items() if count > 1]
    assert len(twice) <= 1  # at most the row in flight, with the same key
    env.runtime.db.dispose()
