"""The outbox worker survives the database going away: a real `gridintake worker` on a private
PostgreSQL cluster that is restarted and stopped under it; its heartbeat in `worker --status`
and `/healthz`."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time

import pytest

from gateway.app import create_app
from tests.forwarding_fixtures import build_env, runtime_env
from tests.support.processes import GRIDINTAKE, wait_for

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


@pytest.fixture
def cluster_fwd(tmp_path, pg_cluster, receiver):
    env = build_env(tmp_path / "var", pg_cluster.url, receiver)
    yield env
    env.runtime.db.dispose()


def _env(fwd, tmp_path) -> dict[str, str]:
    return {**os.environ, **runtime_env(fwd.receiver), "GRIDINTAKE_DATA_DIR": str(tmp_path / "var"),
            "GRIDINTAKE_DATABASE_URL": fwd.runtime.config.database_url}


def _status(env) -> tuple[int, dict]:
    done = subprocess.run([str(GRIDINTAKE), "worker", "--status"], env=env, capture_output=True,
                          text=True, timeout=60)
    return done.returncode, json.loads(done.stdout) if done.stdout else {}


def test_worker_carries_on_through_a_database_restart_and_an_outage(cluster_fwd, pg_cluster, tmp_path):
    env = _env(cluster_fwd, tmp_path)
    assert _status(env)[0] == 1  # no worker yet
    log_path = tmp_path / "worker.log"
    with log_path.open("w") as log:
        worker = subprocess.Popen([str(GRIDINTAKE), "worker"], env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        first = [cluster_fwd.file(f"井盖坏了{i}", sender=str(i)) for i in range(3)]
        wait_for("the first cases delivered", lambda: len(cluster_fwd.receiver.delivered_keys()) == 3, 30)
        code, status = _status(env)
        assert code == 0 and status["alive"] == 1 and status["workers"][0]["state"] == "running"

        pg_cluster.restart("fast")  # every pooled connection of the worker is now dead
        cluster_fwd.runtime.db.dispose()  # (and of this test's filing)
        second = [cluster_fwd.file(f"路灯不亮{i}", sender=str(i)) for i in range(3)]
        wait_for("cases filed after the restart delivered",
                 lambda: len(cluster_fwd.receiver.delivered_keys()) == 6, 30)

        pg_cluster.stop("fast")  # a real outage: connections refused for a while
        time.sleep(4)
        assert worker.poll() is None, log_path.read_text()
        pg_cluster.start()
        cluster_fwd.runtime.db.dispose()
        third = [cluster_fwd.file(f"垃圾满了{i}", sender=str(i)) for i in range(3)]
        wait_for("cases filed after the outage delivered",
                 lambda: len(cluster_fwd.receiver.delivered_keys()) == 9, 60)
        code, status = _status(env)
        assert code == 0 and status["alive"] == 1
        assert "recovered at" in status["workers"][0]["last_error"]
        assert cluster_fwd.receiver.delivered_keys() == {
            f"webhook:case:{n}": 1 for n in first + second + third}
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=20) == 0
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
    log = log_path.read_text()
    assert "Traceback" not in log, log
    # one line when the outage starts and one when it ends, however many retries in between
    fault_lines = [line for line in log.splitlines() if "outbox worker" in line]
    assert 1 <= len([line for line in fault_lines if "retrying with backoff" in line]) <= 2, log
    assert any("recovered after" in line for line in fault_lines), log
    code, status = _status(env)
    assert code == 1 and status["workers"][0]["state"] == "stopped"


def test_healthz_shows_the_database_and_the_workers(cluster_fwd, pg_cluster):
    client = create_app(cluster_fwd.runtime).test_client()
    worker = cluster_fwd.worker()
    worker.heartbeat(force=True)
    answer = client.get("/healthz")
    assert answer.status_code == 200
    assert answer.json["ok"] is True and answer.json["workers_alive"] == 1
    assert answer.json["workers"][0]["worker"] == worker.id
    pg_cluster.stop("fast")
    try:
        answer = client.get("/healthz")
        assert answer.status_code == 503 and answer.json["ok"] is False
        assert "OperationalError" in answer.json["database"]
    finally:
        pg_cluster.start()
    worker.close()
