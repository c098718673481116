"""Slow clients against `gridintake serve` as shipped (gthread workers): two half-open
connections, each sending its request line and never the rest, do not stall `/healthz`;
with the old single-threaded sync workers they did (the baseline, measured in the same test)."""

from __future__ import annotations

import os
import socket
import subprocess
import time

import httpx
import pytest

from tests.support.processes import GRIDINTAKE, serving

pytestmark = pytest.mark.slow  # starts gunicorn


def _half_open(base: str) -> socket.socket:
    host, port = base.removeprefix("http://").split(":")
    conn = socket.create_connection((host, int(port)))
    conn.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")  # the headers never end
    return conn


def _health_under_slow_clients(tmp_path, **env_extra: str) -> float | None:
    env = {**os.environ, "GRIDINTAKE_DATA_DIR": str(tmp_path / "var"), **env_extra}
    subprocess.run([str(GRIDINTAKE), "db", "upgrade"], env=env, check=True, capture_output=True)
    with serving(env, tmp_path / "serve.log") as (_, base):
        held = [_half_open(base) for _ in range(2)]
        time.sleep(0.5)  # both are accepted and being read
        started = time.monotonic()
        try:
            answered = httpx.get(base + "/healthz", timeout=3).status_code == 200
        except httpx.TimeoutException:
            answered = False
        elapsed = time.monotonic() - started
        for conn in held:
            conn.close()
    return elapsed if answered else None


def test_two_half_open_connections_do_not_stall_healthz(tmp_path):
    shipped = _health_under_slow_clients(tmp_path / "gthread")
    assert shipped is not None and shipped < 1.0
    sync = _health_under_slow_clients(tmp_path / "sync", GRIDINTAKE_SERVER_THREADS="1")
    assert sync is None  # the baseline: both sync workers are held, /healthz times out
