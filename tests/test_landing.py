"""`/` for a newcomer: links to the admin and operator pages and the service's status, the
outbox worker's absence shown as a problem; and `gridintake serve` runs that worker itself."""

from __future__ import annotations

import os
import signal
import subprocess

import httpx
import pytest

from gateway.app import create_app
from storage import heartbeats
from storage.db import transaction
from tests.support.processes import GRIDINTAKE, serving, wait_for


def test_the_landing_page_links_the_pages_and_says_the_worker_is_missing(runtime):
    client = create_app(runtime).test_client()
    page = client.get("/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'href="/admin"' in html and 'href="/operator/transcripts"' in html
    assert "未运行 not running" in html and "gridintake worker" in html
    assert client.get("/admin").status_code in (200, 302)
    assert client.get("/operator/transcripts").status_code == 200
    with transaction(runtime.sessions) as session:
        heartbeats.beat(session, "host:1", "running", delivered=0)
    assert "运行中 running (1)" in client.get("/").get_data(as_text=True)


@pytest.mark.slow
def test_serve_runs_the_outbox_worker_and_one_ctrl_c_stops_both(tmp_path):
    env = {**os.environ, "GRIDINTAKE_DATA_DIR": str(tmp_path / "var")}
    subprocess.run([str(GRIDINTAKE), "db", "upgrade"], env=env, check=True, capture_output=True)
    log = tmp_path / "serve.log"
    with serving(env, log, "--workers", "0", worker=True) as (proc, base):
        wait_for("the worker's heartbeat on /", lambda: "运行中 running (1)" in httpx.get(
            base + "/", timeout=5).text, timeout=60)
        assert httpx.get(base + "/healthz", timeout=5).json()["workers_alive"] == 1
        os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C in a terminal: the whole process group
        assert proc.wait(timeout=30) is not None
    assert "outbox worker pid" in log.read_text()
    worker_pid = int(log.read_text().split("outbox worker pid ")[1].split(")")[0])
    wait_for("the worker to exit", lambda: not _alive(worker_pid), timeout=20)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
