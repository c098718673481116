"""Telegram updates are acknowledged only once stored: polling and webhook mode against the Bot
API emulator, with the database (a private PostgreSQL cluster) stopped under them, updates the
library cannot parse and a garbled getUpdates answer."""

from __future__ import annotations

import json
import os
import subprocess
import time

import pytest
from sqlalchemy import select

from bot.handlers.telegram.handler import build_application
from gateway.app import create_app
from storage.db import transaction
from storage.models import InboundMessage
from tests.conftest import make_runtime
from tests.support.polling import Polling
from tests.support.processes import GRIDINTAKE

pytestmark = [pytest.mark.emulator, pytest.mark.slow]
SECRET = "hook-secret-faults"
HEADER = "X-Telegram-Bot-Api-Secret-Token"


def rows(runtime) -> list[InboundMessage]:
    with transaction(runtime.sessions) as session:
        return list(session.scalars(select(InboundMessage).order_by(InboundMessage.id)))


def acknowledged(tg) -> set[int]:
    return {int(call.params["offset"]) for call in tg.api.calls_of("getUpdates")
            if call.params.get("offset") is not None}


@pytest.fixture
def sqlite_runtime(tmp_path, tg):
    runtime = make_runtime(tmp_path / "var", GRIDINTAKE_TELEGRAM_TOKEN=tg.token,
                           GRIDINTAKE_TELEGRAM_BASE_URL=tg.api.base_url,
                           GRIDINTAKE_TELEGRAM_WEBHOOK_SECRET=SECRET)
    yield runtime
    runtime.db.dispose()


@pytest.fixture
def pg_runtime(tmp_path, tg, pg_cluster):
    runtime = make_runtime(tmp_path / "var", pg_cluster.url, GRIDINTAKE_TELEGRAM_TOKEN=tg.token,
                           GRIDINTAKE_TELEGRAM_BASE_URL=tg.api.base_url,
                           GRIDINTAKE_TELEGRAM_WEBHOOK_SECRET=SECRET)
    yield runtime
    runtime.db.dispose()


def test_polling_stores_an_unparseable_update_raw_and_goes_on(tg, resident, sqlite_runtime, tmp_path):
    tg.api.updates.corrupt_next(lambda update: update["message"].pop("date"))
    resident.send_text("井盖坏了")  # arrives without its date: the library cannot read it
    resident.send_text("/help")
    with Polling(build_application(sqlite_runtime, tg.application_builder())):
        assert resident.wait_reply(15).text
        last = max(u["update_id"] for u in tg.api.seen_updates)
        tg.api.wait_for(lambda: last + 1 in acknowledged(tg), 10)
    bad, good = sorted(rows(sqlite_runtime), key=lambda r: r.status != "unparseable")
    assert (bad.status, bad.kind, bad.idempotency_key) == ("unparseable", "update",
                                                          f"update:{last - 1}")
    assert "KeyError" in bad.error and bad.payload["raw"]["message"]["text"] == "井盖坏了"
    assert bad.sender == str(resident.chat_id)
    assert (good.status, good.text) == ("processed", "/help")

    env = {**os.environ, "GRIDINTAKE_DATA_DIR": str(tmp_path / "var")}
    listed = subprocess.run([str(GRIDINTAKE), "inbound", "list", "--failed"], env=env,
                            capture_output=True, text=True, timeout=60)
    assert listed.returncode == 0, listed.stderr
    report = json.loads(listed.stdout)
    assert report["total"] == 1 and report["rows"][0]["status"] == "unparseable"


def test_polling_retries_a_garbled_getupdates_answer(tg, resident, sqlite_runtime):
    tg.api.inject_garbled("getUpdates", times=2)
    resident.send_text("/help")
    with Polling(build_application(sqlite_runtime, tg.application_builder())):
        assert resident.wait_reply(20).text
    assert len(tg.api.calls_of("getUpdates")) >= 3
    assert [r.status for r in rows(sqlite_runtime)] == ["processed"]


def test_polling_does_not_acknowledge_updates_while_storage_is_down(tg, resident, pg_runtime, pg_cluster):
    with Polling(build_application(pg_runtime, tg.application_builder())):
        resident.send_text("/help")
        assert resident.wait_reply(15).text
        pg_cluster.stop("fast")
        resident.send_text("/start")
        time.sleep(3)  # several fetches of the update while the database is down
        update_id = max(u["update_id"] for u in tg.api.seen_updates)
        assert not any(offset > update_id for offset in acknowledged(tg))
        resident.assert_no_reply(0.1)
        pg_cluster.start()
        assert "鹤壁" in resident.wait_reply(40).text
        tg.api.wait_for(lambda: update_id + 1 in acknowledged(tg), 10)
    assert [(r.text, r.status) for r in rows(pg_runtime)] == [("/help", "processed"),
                                                             ("/start", "processed")]


def update(resident, update_id: int, **message) -> dict:
    return {"update_id": update_id, "message": {
        "message_id": update_id, "from": resident.user, "chat": resident.chat,
        "date": int(time.time()), **message}}


def test_webhook_answers_503_while_storage_is_down_then_stores(tg, resident, pg_runtime, pg_cluster):
    client = create_app(pg_runtime).test_client()
    headers = {HEADER: SECRET}
    first = update(resident, 11, text="/start")
    assert client.post("/telegram/webhook", json=first, headers=headers).status_code == 200
    assert resident.wait_reply(30).text
    pg_cluster.stop("fast")
    try:
        second = update(resident, 12, text="/help")
        refused = client.post("/telegram/webhook", json=second, headers=headers)
        assert refused.status_code == 503  # Telegram sends it again later
        resident.assert_no_reply(0.2)
    finally:
        pg_cluster.start()
    # Telegram resends; a pooled connection from before the outage may cost one more 503
    answers = []
    while not answers or answers[-1] != 200:
        answers.append(client.post("/telegram/webhook", json=second, headers=headers).status_code)
        assert len(answers) <= 3, answers
    assert set(answers[:-1]) <= {503}
    assert resident.wait_reply(30).text
    resident.assert_no_reply(0.5)
    assert [(r.text, r.status) for r in rows(pg_runtime)] == [("/start", "processed"),
                                                             ("/help", "processed")]


def test_webhook_stores_an_unparseable_update_and_acknowledges_it(tg, resident, sqlite_runtime):
    client = create_app(sqlite_runtime).test_client()
    headers = {HEADER: SECRET}
    broken = update(resident, 21, photo=[{"file_id": "a", "file_unique_id": "b", "width": 90}])
    assert client.post("/telegram/webhook", json=broken, headers=headers).status_code == 200
    assert client.post("/telegram/webhook", json=broken, headers=headers).status_code == 200  # resent
    good = update(resident, 22, text="/help")
    assert client.post("/telegram/webhook", json=good, headers=headers).status_code == 200
    assert resident.wait_reply(30).text
    bad, ok = sorted(rows(sqlite_runtime), key=lambda r: r.status != "unparseable")
    assert (bad.status, bad.idempotency_key) == ("unparseable", "update:21")
    assert "height" in bad.error
    assert ok.status == "processed"
