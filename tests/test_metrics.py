"""Prometheus /metrics: access by address or token, and figures summed over gunicorn's workers
and the outbox worker, over real HTTP."""

from __future__ import annotations

import os
import subprocess

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from gateway.app import create_app
from tests.conftest import make_runtime
from tests.support.processes import GRIDINTAKE, serving, wait_for
from tests.support.sms import TOKEN, sign, twilio_form

METRICS_TOKEN = "scrape-me-9f2c"


def samples(text: str) -> dict[tuple[str, tuple], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def test_metrics_answer_allowed_addresses_and_the_token_only(tmp_path):
    runtime = make_runtime(tmp_path / "var", GRIDINTAKE_METRICS_TOKEN=METRICS_TOKEN)
    client = create_app(runtime).test_client()
    assert client.get("/metrics").status_code == 200  # 127.0.0.1
    outside = {"REMOTE_ADDR": "203.0.113.7"}
    assert client.get("/metrics", environ_overrides=outside).status_code == 403
    wrong = {"Authorization": "Bearer nope"}
    assert client.get("/metrics", environ_overrides=outside, headers=wrong).status_code == 403
    good = {"Authorization": f"Bearer {METRICS_TOKEN}"}
    answer = client.get("/metrics", environ_overrides=outside, headers=good)
    assert answer.status_code == 200 and answer.mimetype == "text/plain"
    assert ("gridintake_worker_heartbeat_age_seconds", ()) in samples(answer.text)
    runtime.db.dispose()


@pytest.mark.slow
def test_counts_are_summed_over_gunicorn_workers_and_the_outbox_worker(tmp_path):
    env = {**os.environ, "GRIDINTAKE_DATA_DIR": str(tmp_path / "var"),
           "GRIDINTAKE_TWILIO_AUTH_TOKEN": TOKEN, "GRIDINTAKE_FORWARDING_NOOP": "true",
           "GRIDINTAKE_METRICS_ALLOW": "", "GRIDINTAKE_METRICS_TOKEN": METRICS_TOKEN}
    env.pop("GRIDINTAKE_PUBLIC_URL", None)
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    subprocess.run([str(GRIDINTAKE), "db", "upgrade"], env=env, check=True, capture_output=True)
    auth = {"Authorization": f"Bearer {METRICS_TOKEN}"}
    with serving(env, tmp_path / "serve.log") as (_, base):
        url = base + "/sms/twilio"
        for i in range(6):
            form = twilio_form(Body="九州路上的井盖丢了", From=f"+86138000012{i:02d}",
                               MessageSid=f"SM{i:032d}")
            assert httpx.post(url, data=form, headers={"X-Twilio-Signature": sign(url, form)},
                              timeout=30).status_code == 200
        assert httpx.post(url, data=form, headers={"X-Twilio-Signature": sign(url, form)},
                          timeout=30).status_code == 200  # the last one again: a replay
        assert httpx.get(base + "/metrics", timeout=10).status_code == 403  # loopback not allowed
        filed = subprocess.run([str(GRIDINTAKE), "report", "--text", "井盖丢了", "--lat", "35.75",
                                "--lon", "114.30"], env=env, check=True, capture_output=True)
        assert filed.returncode == 0
        # Several scrapes reach both workers; each sees every worker's counts.
        for _ in range(4):
            seen = samples(httpx.get(base + "/metrics", headers=auth, timeout=10).text)
            inbound = ("gridintake_inbound_messages_total", (("channel", "sms"), ("outcome", "processed")))
            assert seen[inbound] == 6
            assert seen[("gridintake_inbound_messages_total",
                         (("channel", "sms"), ("outcome", "replayed")))] == 1
            assert seen[("gridintake_classification_confidence_count", ())] == 6
            assert seen[("gridintake_webhook_seconds_count", (("blueprint", "sms"),))] == 7
            assert seen[("gridintake_outbox_pending", (("sink", "noop"),))] == 1
            assert seen[("gridintake_worker_heartbeat_age_seconds", ())] == -1
        decisions = {dict(k[1])["decision"]: v for k, v in seen.items()
                     if k[0] == "gridintake_classification_decisions_total"}
        assert sum(decisions.values()) == 6
        worker = subprocess.Popen([str(GRIDINTAKE), "worker"], env=env, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)
        try:
            def delivered():
                seen = samples(httpx.get(base + "/metrics", headers=auth, timeout=10).text)
                done = seen.get(("gridintake_delivery_seconds_count", (("sink", "noop"),)))
                return seen if done and seen[("gridintake_workers_alive", ())] == 1 else None
            seen = wait_for("the outbox worker's delivery in /metrics", delivered, timeout=60)
        finally:
            worker.terminate()
            worker.wait(20)
        assert ("gridintake_outbox_pending", (("sink", "noop"),)) not in seen
        assert seen[("gridintake_delivery_seconds_count", (("sink", "noop"),))] == 1
        assert 0 <= seen[("gridintake_worker_heartbeat_age_seconds", ())] < 30
