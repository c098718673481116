"""Webhook mode (`POST /telegram/webhook` with the secret token) and `gridintake telegram` polling,
both against the Bot API emulator."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select
from werkzeug.serving import make_server

from gateway.app import create_app
from storage.db import transaction
from storage.models import InboundMessage
from tests.conftest import make_runtime

pytestmark = pytest.mark.emulator

SECRET = "hook-secret-3f9a"
HEADER = "X-Telegram-Bot-Api-Secret-Token"
SLOW = 30.0


@pytest.fixture
def hook_runtime(tmp_path, tg):
    runtime = make_runtime(tmp_path / "var", GRIDINTAKE_TELEGRAM_TOKEN=tg.token,
                           GRIDINTAKE_TELEGRAM_BASE_URL=tg.api.base_url,
                           GRIDINTAKE_TELEGRAM_WEBHOOK_SECRET=SECRET)
    yield runtime
    runtime.db.dispose()


def start_update(resident, update_id: int, text: str = "/start") -> dict:
    return {"update_id": update_id, "message": {
        "message_id": update_id, "from": resident.user, "chat": resident.chat,
        "date": int(time.time()), "text": text,
        "entities": [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}],
    }}


def stored(runtime) -> int:
    with transaction(runtime.sessions) as session:
        return session.scalar(select(func.count(InboundMessage.id)))


def test_wrong_or_missing_secret_is_403_and_nothing_is_stored(hook_runtime, resident):
    client = create_app(hook_runtime).test_client()
    update = start_update(resident, 1)
    assert client.post("/telegram/webhook", json=update).status_code == 403
    wrong = client.post("/telegram/webhook", json=update, headers={HEADER: SECRET + "x"})
    assert wrong.status_code == 403
    assert stored(hook_runtime) == 0
    assert resident.replies == []


def test_right_secret_processes_once_and_replies(hook_runtime, resident):
    client = create_app(hook_runtime).test_client()
    update = start_update(resident, 7)
    first = client.post("/telegram/webhook", json=update, headers={HEADER: SECRET})
    assert first.status_code == 200
    assert "鹤壁" in resident.wait_reply(SLOW).text
    again = client.post("/telegram/webhook", json=update, headers={HEADER: SECRET})  # Telegram retry
    assert again.status_code == 200
    assert stored(hook_runtime) == 1
    bad = client.post("/telegram/webhook", data="not json", headers={HEADER: SECRET,
                                                                      "Content-Type": "application/json"})
    assert bad.status_code == 400


def test_webhook_without_configured_secret_refuses_everything(tmp_path, tg, resident):
    runtime = make_runtime(tmp_path / "open", GRIDINTAKE_TELEGRAM_TOKEN=tg.token)
    client = create_app(runtime).test_client()
    response = client.post("/telegram/webhook", json=start_update(resident, 1), headers={HEADER: ""})
    assert response.status_code == 403
    runtime.db.dispose()


def test_emulator_delivers_to_the_served_webhook(hook_runtime, tg, resident):
    server = make_server("127.0.0.1", 0, create_app(hook_runtime), threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}/telegram/webhook"
    api = f"{tg.api.base_url}{tg.token}"
    try:
        assert httpx.post(f"{api}/setWebhook", data={"url": url, "secret_token": SECRET}).json()["ok"]
        resident.send_text("/start")
        assert "鹤壁" in resident.wait_reply(SLOW).text
        resident.send_text("/mycases")
        assert resident.wait_reply().text == "您还没有上报过案件。"
    finally:
        httpx.post(f"{api}/deleteWebhook")
        server.shutdown()
    assert [status for _, status in tg.api.webhook.deliveries] == [200, 200]
    assert stored(hook_runtime) == 2


def gridintake() -> str:
    found = shutil.which("gridintake", path=str(Path(sys.executable).parent))
    assert found, "the gridintake console script is not installed in this environment"
    return found


def reply_from(resident, proc: subprocess.Popen, timeout: float) -> str:
    """The bot's next reply, failing at once if the bot process has exited."""
    deadline = time.monotonic() + timeout
    while proc.poll() is None and time.monotonic() < deadline:
        try:
            return resident.wait_reply(0.5).text
        except TimeoutError:
            continue
    _, err = proc.communicate(timeout=5) if proc.poll() is not None else ("", "still running")
    raise AssertionError(f"no reply from `gridintake telegram` (exit {proc.returncode}): {err}")


@pytest.mark.parametrize("form", ["bot prefix", "server root"])
def test_cli_polls_the_bot_api_at_base_url(tmp_path, tg, resident, form):
    base_url = tg.api.base_url if form == "bot prefix" else tg.api.url
    runtime = make_runtime(tmp_path / "cli")  # migrated database the subprocess will use
    runtime.db.dispose()
    env = {**os.environ, "GRIDINTAKE_DATA_DIR": str(tmp_path / "cli"),
           "GRIDINTAKE_TELEGRAM_TOKEN": tg.token}
    env.pop("GRIDINTAKE_CONFIG", None)
    proc = subprocess.Popen([gridintake(), "telegram", "--base-url", base_url], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        resident.send_text("/start")
        welcome = reply_from(resident, proc, 60)
        resident.send_location(35.7480, 114.2970)
        pin = reply_from(resident, proc, SLOW)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    assert "鹤壁" in welcome, err
    assert "已收到位置" in pin
    commands = httpx.post(f"{tg.api.base_url}{tg.token}/getMyCommands").json()["result"]
    assert "mycases" in [c["command"] for c in commands]
    english = httpx.post(f"{tg.api.base_url}{tg.token}/getMyCommands",
                         data={"language_code": "en"}).json()["result"]
    assert english[0]["description"] == "Report a problem"
    assert proc.returncode == 0, err
