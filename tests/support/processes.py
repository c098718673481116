"""The gridintake command run as real processes: its path, a free port, `serve` until healthy."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

GRIDINTAKE = Path(sys.executable).with_name("gridintake")


def wait_for(what: str, check, timeout: float = 10.0):
    """Poll `check` until it returns something truthy; fail the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not (result := check()):
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.05)
    return result


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serving(env: dict[str, str], log_path: Path, *options: str,
            worker: bool = False) -> Iterator[tuple[subprocess.Popen, str]]:
    """`gridintake serve` until healthy; without its outbox worker unless asked (tests deliver
    the outbox themselves)."""
    port = free_port()
    command = [str(GRIDINTAKE), "serve", "--host", "127.0.0.1", "--port", str(port), *options]
    with log_path.open("a") as log:
        # its own process group: gunicorn's master and workers can be killed together
        proc = subprocess.Popen([*command, *([] if worker else ["--no-worker"])],
                                env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"gridintake serve did not come up: {log_path.read_text()}")
                time.sleep(0.1)
            yield proc, base
        finally:
            if proc.poll() is None:
                proc.terminate()
            proc.wait(timeout=30)  # gunicorn: graceful_timeout 10 s, then workers tear down (slow under load)
