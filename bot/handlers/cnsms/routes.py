"""Mainland SMS callbacks: `POST /sms/<aliyun|tencent>/up` (residents' replies) and
`POST /sms/<aliyun|tencent>/report` (delivery receipts), as each provider documents them.

Neither provider signs its HTTP pushes, so the URL given to them carries a secret,
`?token=<GRIDINTAKE_CNSMS_CALLBACK_TOKEN>`, compared in constant time. Order of checks: size,
provider enabled, token, the JSON; then each reply is stored and handled like any SMS (opt-out
words, per-sender rate limit, the conversation), its answers queued as template messages; each
receipt updates its outbox row. The provider gets its documented acknowledgement only after.
"""

from __future__ import annotations

import hmac
import json

from flask import Blueprint, Response, abort, current_app, jsonify, request
from sqlalchemy import select

from bot.handlers.cnsms import aliyun, receipts, tencent
from bot.handlers.sms import handler as sms
from bot.inbox import Refusal
from bot.rate_limits import SenderLimiter
from bot.types import Inbound, Outcome
from cases import notices
from storage.db import transaction
from storage.models import Reporter
from storage.text import storable

bp = Blueprint("cnsms", __name__)
PROVIDERS = {"aliyun": aliyun, "tencent": tencent}
MAX_REQUEST_BYTES = 256 * 1024  # a receipt batch is up to a few hundred items


def _error(message: str, status: int) -> Response:
    return jsonify(error=message), status


def _items(provider: str) -> list[dict] | Response:
    """The pushed items after the checks, or the refusal."""
    runtime = current_app.config["RUNTIME"]
    if (request.content_length or 0) > MAX_REQUEST_BYTES:
        return _error("request too large for an SMS callback", 413)
    if provider not in runtime.settings.cnsms.providers:
        return _error(f"{provider} SMS is not enabled in [cnsms] providers", 503)
    token = runtime.config.secret("CNSMS_CALLBACK_TOKEN")
    if not token:
        return _error("set GRIDINTAKE_CNSMS_CALLBACK_TOKEN to take SMS callbacks", 503)
    if not hmac.compare_digest(request.args.get("token", "").encode(), token.encode()):
        return _error("wrong or missing token", 403)
    try:
        data = json.loads(request.get_data(cache=False) or b"null")
    except ValueError:
        return _error("body is not JSON", 400)
    items = [data] if isinstance(data, dict) else data
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        return _error("expected a JSON object or an array of objects", 400)
    return storable(items)


def _queue_replies(runtime, inbound: Inbound, outcome: Outcome) -> None:
    """The answers go out as template messages through the outbox, one row per reply (keyed by
    the message, so a pushed-again reply queues nothing twice)."""
    with transaction(runtime.sessions) as session:
        reporter = session.scalar(select(Reporter).where(Reporter.channel == inbound.channel,
                                                         Reporter.channel_user_id == inbound.sender))
        if reporter is None:
            return
        for i, reply in enumerate(outcome.replies):
            template = {"key": reply.key, "values": reply.values} if reply.key else None
            notices.send_to(session, reporter, reply.text, key=f"replies:{outcome.inbound_id}:{i}",
                            choices=reply.choices, template=template)


@bp.post("/sms/<provider>/up")
def uplink(provider: str):
    module = PROVIDERS.get(provider) or abort(404)
    items = _items(provider)
    if isinstance(items, Response | tuple):
        return items
    try:
        messages = [module.uplink(item) for item in items]
    except (KeyError, TypeError, ValueError) as exc:
        return _error(f"not a {provider} reply: missing or bad {exc}", 400)
    runtime = current_app.config["RUNTIME"]
    for inbound in messages:
        if SenderLimiter.for_app(current_app).allow(inbound.channel, inbound.sender):
            outcome = sms.handle(runtime, inbound)
        else:
            lang = sms.reporter_language(runtime, inbound.channel, inbound.sender, inbound.text)
            outcome = runtime.engine.refuse(inbound, Refusal.rate_limited(lang))
        _queue_replies(runtime, inbound, outcome)
    return jsonify(module.ACK)


@bp.post("/sms/<provider>/report")
def report(provider: str):
    module = PROVIDERS.get(provider) or abort(404)
    items = _items(provider)
    if isinstance(items, Response | tuple):
        return items
    try:
        found = [module.receipt(item) for item in items]
    except (KeyError, TypeError, ValueError) as exc:
        return _error(f"not a {provider} delivery receipt: missing or bad {exc}", 400)
    with transaction(current_app.config["RUNTIME"].sessions) as session:
        for receipt in found:
            receipts.apply(session, module.CHANNEL, module.ID_FIELD, receipt)
    return jsonify(module.ACK)
