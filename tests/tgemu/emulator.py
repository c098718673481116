"""Lifecycle and raw HTTP access to one telegram-test-api emulator process."""

from __future__ import annotations

import shutil
import socket
import subprocess
from pathlib import Path
from typing import Any

import httpx

HERE = Path(__file__).resolve().parent
LAUNCHER = HERE / "emulator.js"
PACKAGE_DIR = HERE / "node_modules" / "telegram-test-api"
INSTALL_HINT = "npm ci --prefix tests/tgemu"


class EmulatorUnavailable(RuntimeError):
    """node or the npm package is missing, or the emulator failed to start."""


def free_port() -> int:
    """A port that was free on 127.0.0.1 a moment ago (the emulator cannot bind port 0)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Emulator:
    """One emulator process; unread updates live in its memory, so use one per test."""

    def __init__(self, token: str) -> None:
        self.token = token
        self.port = 0
        self._proc: subprocess.Popen[str] | None = None
        self._http = httpx.Client(timeout=5.0)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, attempts: int = 3) -> None:
        node = shutil.which("node")
        if node is None:
            raise EmulatorUnavailable("node is not installed")
        if not PACKAGE_DIR.is_dir():
            raise EmulatorUnavailable(f"telegram-test-api is not installed; run `{INSTALL_HINT}`")
        last_error = ""
        for _ in range(attempts):  # the free port may be taken before node binds it
            self.port = free_port()
            proc = subprocess.Popen(
                [node, str(LAUNCHER), str(self.port)],
                cwd=HERE,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            line = proc.stdout.readline() if proc.stdout else ""
            if line.startswith("READY"):
                self._proc = proc
                return
            proc.kill()
            _, err = proc.communicate(timeout=5)
            last_error = err.strip() or line.strip()
        raise EmulatorUnavailable(f"telegram-test-api did not start: {last_error}")

    def stop(self) -> None:
        self._http.close()
        if self._proc is None:
            return
        proc, self._proc = self._proc, None
        proc.terminate()
        try:
            proc.communicate(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()

    def bot_call(self, method: str, params: dict[str, Any] | None = None) -> httpx.Response:
        """Call a Bot API method as the bot would (JSON body)."""
        return self._http.post(f"{self.url}/bot{self.token}/{method}", json=params or {})

    def client_call(self, route: str, body: dict[str, Any]) -> Any:
        """Call the emulator's own client API (`sendMessage`, `sendCallback`, ...)."""
        response = self._http.post(f"{self.url}/{route}", json={**body, "botToken": self.token})
        response.raise_for_status()
        return response.json()
