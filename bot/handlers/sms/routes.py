"""SMS webhooks: `POST /sms/twilio` (X-Twilio-Signature) and `POST /sms/generic` (HMAC header).

Order of checks: size, signature (a refused request stores nothing and counts against no one),
per-sender rate limit (a polite reply; the message is stored answered, not processed), then the
message is stored raw and handled. A retried MessageSid gets the reply it got before.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import datetime

from flask import Blueprint, Response, current_app, jsonify, request
from twilio.request_validator import RequestValidator

from bot.handlers.sms import handler as sms
from bot.handlers.sms.rules import GENERIC, TWILIO, render, segments
from bot.inbox import Refusal
from bot.rate_limits import SenderLimiter
from bot.signing import HEADER, SignatureError, verify
from bot.types import Inbound, Outcome
from storage.text import storable

log = logging.getLogger(__name__)
bp = Blueprint("sms", __name__)
MAX_REQUEST_BYTES = 64 * 1024  # a Twilio form (1600-character body, 10 media URLs) is far below


def _runtime():
    return current_app.config["RUNTIME"]


def _xml(body: str, status: int = 200) -> Response:
    return Response(body, status=status, mimetype="text/xml")


def public_url() -> str:
    """The URL Twilio signed: GRIDINTAKE_PUBLIC_URL + path, else the request's own URL as the
    client saw it through proxies (X-Forwarded-Proto/Host/Prefix)."""
    path = request.path + (f"?{request.query_string.decode()}" if request.query_string else "")
    base = _runtime().settings.server.public_url
    if base:
        return base + path
    first = lambda name: (request.headers.get(name) or "").split(",")[0].strip()  # noqa: E731
    scheme = first("X-Forwarded-Proto") or request.scheme
    host = first("X-Forwarded-Host") or request.host
    prefix = first("X-Forwarded-Prefix").rstrip("/")
    return f"{scheme}://{host}{prefix}{path}"


def _too_large() -> bool:
    return (request.content_length or 0) > MAX_REQUEST_BYTES


@bp.post("/sms/twilio")
def twilio_webhook():
    if _too_large():
        return Response("request too large for an SMS webhook\n", 413, mimetype="text/plain")
    runtime = _runtime()
    token = runtime.config.secret("TWILIO_AUTH_TOKEN")
    if not token:
        log.error("refusing /sms/twilio: GRIDINTAKE_TWILIO_AUTH_TOKEN is not set")
        return Response("Twilio auth token not configured\n", 403, mimetype="text/plain")
    signature = request.headers.get("X-Twilio-Signature", "")
    if not signature or not RequestValidator(token).validate(public_url(), request.form, signature):
        return Response("invalid Twilio signature\n", 403, mimetype="text/plain")
    form = storable(request.form.to_dict(flat=True))  # checked as signed, kept storable
    key = form.get("MessageSid") or form.get("SmsSid")
    sender = form.get("From")
    if not key or not sender:
        return Response("MessageSid and From are required\n", 400, mimetype="text/plain")
    with_media = (form.get("NumMedia") or "0").strip() not in ("", "0")
    outcome = _handle(TWILIO, key, sender, form.get("Body"),
                      lambda fetch: sms.twilio_inbound(runtime, form, fetch_media=fetch),
                      look_first=with_media)
    return _xml(sms.twiml(outcome.replies))


def _handle(channel: str, key: str, sender: str, text: str | None,
            build: Callable[[bool], Inbound], look_first: bool = False) -> Outcome:
    """A replay is recognised by the inbox's unique key when it is recorded, so a first delivery
    costs no lookup; it is looked up first only where building the message is costly
    (``look_first``: MMS media to fetch). Over the rate limit the message is kept as it came
    (``build(False)``: no media fetched) with the polite answer, and not processed."""
    runtime = _runtime()
    previous = sms.stored_outcome(runtime, channel, key) if look_first else None
    if previous is not None:
        return previous
    if not SenderLimiter.for_app(current_app).allow(channel, sender):
        lang = sms.reporter_language(runtime, channel, sender, text)
        return runtime.engine.refuse(build(False), Refusal.rate_limited(lang))
    return sms.handle(runtime, build(True))


def _generic_fields(body: bytes) -> dict:
    try:
        data = json.loads(body or b"null")
    except ValueError:
        raise ValueError("body is not JSON") from None
    if not isinstance(data, dict):
        raise ValueError('expected a JSON object {"id", "from", "to", "text", "received_at"}')
    for name in ("id", "from"):
        value = data.get(name)
        if not isinstance(value, str | int) or not str(value).strip() or len(str(value)) > 120:
            raise ValueError(f'"{name}" must be a non-empty string of at most 120 characters')
    if data.get("text") is not None and not isinstance(data["text"], str):
        raise ValueError('"text" must be a string')
    if data.get("received_at"):
        try:
            datetime.fromisoformat(str(data["received_at"]))
        except ValueError:
            raise ValueError('"received_at" must be an ISO 8601 time') from None
    data["from"] = str(data["from"]).strip()
    return storable(data)


@bp.post("/sms/generic")
def generic_webhook():
    if _too_large():
        return jsonify(error="request too large for an SMS webhook"), 413
    runtime = _runtime()
    secret = runtime.config.secret("SMS_GENERIC_SECRET")
    if not secret:
        return jsonify(error="generic SMS disabled: set GRIDINTAKE_SMS_GENERIC_SECRET"), 503
    body = request.get_data(cache=False)
    try:
        verify(secret, request.headers.get(HEADER), body)
    except SignatureError as exc:
        return jsonify(error=str(exc)), 403
    try:
        data = _generic_fields(body)
    except ValueError as exc:
        return jsonify(error=str(exc)), 400
    outcome = _handle(GENERIC, str(data["id"]), data["from"], data.get("text"),
                      lambda _fetch: sms.generic_inbound(data))
    replies = [{"text": render(r), "segments": segments(render(r)).count}
               for r in outcome.replies]
    return jsonify(replies=replies, replayed=outcome.replayed, case_number=outcome.case_number)
