"""Parallel workers on PostgreSQL: disjoint claims, and a worker killed mid-delivery."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from storage.db import transaction
from storage.models import Outbox, utcnow
from tests.forwarding_fixtures import build_env, runtime_env

pytestmark = [pytest.mark.postgres, pytest.mark.slow]
REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def pg_fwd(tmp_path, postgres_url, receiver):
    env = build_env(tmp_path / "var", postgres_url, receiver)
    yield env
    env.runtime.db.dispose()


def test_two_workers_never_deliver_the_same_row_twice(pg_fwd):
    numbers = [pg_fwd.file(f"井盖坏了{i}", lat=35.60 + i * 0.002, sender=str(i)) for i in range(120)]
    workers = [pg_fwd.worker(batch_size=7) for _ in range(2)]
    counts: list[dict] = []
    threads = [threading.Thread(target=lambda w=w: counts.append(w.run_once())) for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for worker in workers:
        worker.close()
    assert pg_fwd.receiver.delivered_keys() == {f"webhook:case:{n}": 1 for n in numbers}
    assert sorted(c["done"] for c in counts)[0] > 0  # both workers took a share
    assert sum(c["done"] for c in counts) == 120


def test_killed_worker_leads_to_redelivery_with_the_same_key(pg_fwd, tmp_path):
    number = pg_fwd.file()
    pg_fwd.receiver.plan, pg_fwd.receiver.hang_s = ["hang"], 30
    env = {**os.environ, **runtime_env(pg_fwd.receiver),
           "GRIDINTAKE_DATABASE_URL": pg_fwd.runtime.config.database_url,
           "GRIDINTAKE_DATA_DIR": str(tmp_path / "var")}
    command = [sys.executable, "-m", "gateway.cli", "worker", "--once", "--lease", "12", "--timeout", "2.5"]
    worker = subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert pg_fwd.receiver.received.wait(30), "the worker never reached the receiver"
        os.kill(worker.pid, signal.SIGKILL)  # mid-delivery: the request is in flight
        worker.wait(10)
    finally:
        if worker.poll() is None:
            worker.kill()
    with transaction(pg_fwd.runtime.sessions) as session:
        [row] = session.scalars(select(Outbox)).all()
        assert row.status == "pending" and row.locked_by  # still leased to the dead worker
        lease_ends = row.locked_until
    # Before the lease ends nobody else may take it; after it, a new worker re-delivers. (A 12 s
    # lease: a worker process can take seconds to start on a loaded machine.)
    rerun = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=60)
    assert utcnow() < lease_ends, "the check ran after the lease ended: it proves nothing"
    assert json.loads(rerun.stdout)["done"] == 0
    time.sleep(max(0.0, (lease_ends - utcnow()).total_seconds()) + 0.2)
    rerun = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=60)
    assert rerun.returncode == 0, rerun.stderr
    assert json.loads(rerun.stdout)["done"] == 1
    first, second = pg_fwd.receiver.webhook()
    assert first.headers["Idempotency-Key"] == second.headers["Idempotency-Key"] == f"webhook:case:{number}"
    assert first.body == second.body  # the receiver can recognise the re-delivery
    assert pg_fwd.receiver.delivered_keys() == {f"webhook:case:{number}": 1}
    with transaction(pg_fwd.runtime.sessions) as session:
        [row] = session.scalars(select(Outbox)).all()
        assert row.status == "done" and row.attempts == 1
