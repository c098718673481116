"""`/` for a newcomer: links to the admin and operator pages and the service's status, the
outbox worker's absence shown as a problem; and `gridintake serve` runs that worker itself."""

from __future__ import annotations

import json
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
    assert 'href="/admin/"' in html and 'href="/operator/transcripts"' in html
    assert "未运行 not running" in html and "gridintake worker" in html
    assert client.get("/admin/").status_code in (200, 302)
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


@pytest.mark.slow
def test_classify_and_eval_use_the_administrators_keyword_edits(tmp_path):
    """An administrator's keyword (here through `categories import`, as the admin page stores
    it) is what `classify` and `eval` use, like the running service."""
    env = {**os.environ, "GRIDINTAKE_DATA_DIR": str(tmp_path / "var")}

    def cli(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([str(GRIDINTAKE), *args], env=env, capture_output=True, text=True,
                              timeout=120)

    assert cli("setup").returncode == 0
    word = "蓝莓灯柱闪烁"
    before = json.loads(cli("classify", word).stdout)
    assert before["label"] != "component:0118" or not before["evidence"]["keywords"]
    tree = tmp_path / "tree.csv"
    assert cli("categories", "export", str(tree)).returncode == 0
    lines = tree.read_text("utf-8-sig").splitlines()
    edited = [line.replace(",路灯; ", f",{word}; 路灯; ", 1) if line.startswith("component:0118,")
              else line for line in lines]
    tree.write_text("\n".join(edited) + "\n", "utf-8")
    assert cli("categories", "import", str(tree)).returncode == 0, "import refused"
    after = json.loads(cli("classify", word).stdout)
    assert after["label"] == "component:0118" and word in after["evidence"]["keywords"]["component:0118"]
    dev = tmp_path / "dev.jsonl"
    dev.write_text(json.dumps({"text": word, "label": "component:0118"}, ensure_ascii=False) + "\n")
    assert json.loads(cli("eval", str(dev)).stdout)["top1"] == 1.0
