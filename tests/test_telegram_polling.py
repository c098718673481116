"""Polling is at least once: the bot stopped mid-batch gets the same update again after a restart,
and the inbound row's idempotency key makes that one stored, processed message."""

from __future__ import annotations

import asyncio
import threading

import pytest
from sqlalchemy import select
from telegram import Update
from telegram.ext import Application, ContextTypes, TypeHandler

from bot.handlers.telegram.handler import build_application
from storage.db import transaction
from storage.models import InboundMessage
from tests.conftest import make_runtime
from tests.support.polling import Polling

pytestmark = pytest.mark.emulator


@pytest.fixture
def runtime(tmp_path, tg):
    runtime = make_runtime(tmp_path / "var", GRIDINTAKE_TELEGRAM_TOKEN=tg.token,
                           GRIDINTAKE_TELEGRAM_BASE_URL=tg.api.base_url)
    yield runtime
    runtime.db.dispose()


def stalled_app(tg, runtime, group: int) -> tuple[Application, threading.Event]:
    """The bot's Application plus a handler in `group` that never finishes: the process "dies"
    there. Group -1 runs before the channel (nothing stored yet), group 1 after it."""
    reached = threading.Event()

    async def stall(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        reached.set()
        await asyncio.Event().wait()

    app = build_application(runtime, tg.application_builder())
    app.add_handler(TypeHandler(Update, stall), group=group)
    return app, reached


def inbound_rows(runtime) -> list[InboundMessage]:
    with transaction(runtime.sessions) as session:
        return list(session.scalars(select(InboundMessage).where(InboundMessage.channel == "telegram")))


def acknowledged(tg) -> set[int]:
    """Offsets the bot sent with getUpdates (each confirms every update below it)."""
    return {int(call.params["offset"]) for call in tg.api.calls_of("getUpdates")
            if call.params.get("offset") is not None}


def test_update_fetched_but_not_stored_is_processed_after_restart_once(tg, resident, runtime):
    app, reached = stalled_app(tg, runtime, group=-1)
    with Polling(app):
        resident.send_text("/help")
        assert reached.wait(10)
        assert inbound_rows(runtime) == []
    [update_id] = [u["update_id"] for u in tg.api.seen_updates]
    assert not any(offset > update_id for offset in acknowledged(tg))  # still pending

    with Polling(build_application(runtime, tg.application_builder())):
        help_text = resident.wait_reply(10).text
        tg.api.wait_for(lambda: update_id + 1 in acknowledged(tg), 10)
        resident.assert_no_reply(0.5)
    [row] = inbound_rows(runtime)
    assert (row.idempotency_key, row.status, row.text) == (
        f"{resident.chat_id}:{tg.api.seen_updates[0]['message']['message_id']}", "processed", "/help")
    assert row.replies[0]["text"] == help_text


def test_update_processed_but_not_acknowledged_is_replayed_not_stored_again(tg, resident, runtime):
    app, reached = stalled_app(tg, runtime, group=1)
    with Polling(app):
        resident.send_text("/help")
        first = resident.wait_reply(10).text
        assert reached.wait(10)
    [update_id] = [u["update_id"] for u in tg.api.seen_updates]
    assert not any(offset > update_id for offset in acknowledged(tg))

    with Polling(build_application(runtime, tg.application_builder())):
        # at least once: the reply may be repeated, from the stored row, never re-processed
        assert resident.wait_reply(10).text == first
        tg.api.wait_for(lambda: update_id + 1 in acknowledged(tg), 10)
        resident.assert_no_reply(0.5)
    [row] = inbound_rows(runtime)
    assert row.status == "processed"



def test_failed_fetches_are_retried(tg, resident, runtime):
    tg.api.inject_error("getUpdates", 429, "Too Many Requests: retry after 1", {"retry_after": 1})
    tg.api.inject_error("getUpdates", 502, "Bad Gateway")
    with Polling(build_application(runtime, tg.application_builder())):
        resident.send_text("/help")
        assert resident.wait_reply(15).text
    assert len(inbound_rows(runtime)) == 1
