"""Telegram webhook mode: `POST /telegram/webhook`, verified by the secret token header.

An update is answered 200 only once it is stored (an update the library cannot read is stored
raw as unparseable), 503 while storage is down so that Telegram sends it again.

Flask views are synchronous, so the bot's Application lives on its own event loop in a
background thread (one per gateway process) and each verified update is handed to it and
awaited; the handlers are the very ones polling uses.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import threading
from concurrent.futures import TimeoutError as FutureTimeout

from flask import Blueprint, current_app, jsonify, request
from telegram.ext import Application

from bot.handlers.telegram.handler import build_application, setup_bot, take_update
from storage.faults import describe, storage_unavailable

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
PROCESS_TIMEOUT_S = 50  # Telegram gives up on a webhook after about a minute

bp = Blueprint("telegram_webhook", __name__)
log = logging.getLogger(__name__)


class WebhookBridge:
    """An initialised Application on a private event loop, fed from request threads."""

    def __init__(self, runtime) -> None:
        self.app: Application = build_application(runtime)
        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_forever, name="telegram-webhook", daemon=True).start()
        self._run(self.app.initialize())
        self._run(setup_bot(self.app))

    def _run(self, coroutine):
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(PROCESS_TIMEOUT_S)

    def process(self, data: dict) -> bool:
        """True once the update is stored (see `take_update`)."""
        return self._run(take_update(self.app, data))


_lock = threading.Lock()


def _bridge() -> WebhookBridge:
    with _lock:
        bridge = current_app.extensions.get("telegram_bridge")
        if bridge is None:
            bridge = WebhookBridge(current_app.config["RUNTIME"])
            current_app.extensions["telegram_bridge"] = bridge
        return bridge


@bp.post("/telegram/webhook")
def telegram_webhook():
    runtime = current_app.config["RUNTIME"]
    expected = runtime.config.secret("TELEGRAM_WEBHOOK_SECRET")
    given = request.headers.get(SECRET_HEADER, "")
    if not expected or not hmac.compare_digest(given.encode(), expected.encode()):
        return jsonify(error="wrong or missing secret token"), 403
    data = request.get_json(silent=True)
    if not isinstance(data, dict) or not isinstance(data.get("update_id"), int):
        return jsonify(error="the body is not a Telegram Update"), 400
    if not runtime.config.secret("TELEGRAM_TOKEN"):
        return jsonify(error="GRIDINTAKE_TELEGRAM_TOKEN is not set"), 503
    try:
        stored = _bridge().process(data)
    except FutureTimeout:
        return jsonify(error="the update is still being processed"), 503
    except Exception as exc:
        if not storage_unavailable(exc):
            raise
        stored = False
        log.warning("telegram update %s not stored: %s", data["update_id"], describe(exc))
    if not stored:  # acknowledged only once stored: Telegram sends it again
        return jsonify(error="storage unavailable, send the update again"), 503
    return jsonify(ok=True)
