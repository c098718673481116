"""SMS webhooks: `POST /sms/twilio` (X-Twilio-Signature) and `POST /sms/generic` (HMAC header).

Order of checks: size, signature (a refused request stores nothing and counts against no one),
replay (a retried MessageSid gets the reply it got before), per-sender rate limit (a polite reply,
nothing stored), then the message is stored raw and handled.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import deque
from datetime import datetime

from flask import Blueprint, Response, current_app, jsonify, request
from limits import RateLimitItem, parse
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter
from twilio.request_validator import RequestValidator

from bot.handlers import sms
from bot.i18n import t
from bot.types import Outcome, Reply

log = logging.getLogger(__name__)
bp = Blueprint("sms", __name__)
MAX_REQUEST_BYTES = 64 * 1024  # a Twilio form (1600-character body, 10 media URLs) is far below


class MemoryWindow:
    """A moving window per key in this process. Stands in for the `limits` memory storage,
    which starts a fresh expiry thread on every hit (about 2.5 ms a message under load)."""

    SWEEP_AT = 10_000  # keys kept before the ones with no hit left in the window are dropped

    def __init__(self, rate: RateLimitItem) -> None:
        self.amount = rate.amount
        self.seconds = rate.get_expiry()
        self.hits: dict[tuple[str, ...], deque[float]] = {}
        self.lock = threading.Lock()

    def hit(self, rate: RateLimitItem, *key: str) -> bool:
        now = time.monotonic()
        start = now - self.seconds
        with self.lock:
            if len(self.hits) >= self.SWEEP_AT:
                self.hits = {k: q for k, q in self.hits.items() if q[-1] > start}
            window = self.hits.setdefault(key, deque())
            while window and window[0] <= start:
                window.popleft()
            if len(window) >= self.amount:
                return False
            window.append(now)
            return True


class SenderLimiter:
    """Per-sender limits on the `limits` library that Flask-Limiter is built on (same storage
    URIs: memory:// or redis://), called by hand so only requests that passed the signature
    check count. A storage failure lets the message through rather than lose it."""

    def __init__(self, storage_uri: str, rate: str) -> None:
        self.rate = parse(rate)
        if (storage_uri or "memory://").startswith("memory://"):
            self.strategy: MovingWindowRateLimiter | MemoryWindow = MemoryWindow(self.rate)
        else:
            self.strategy = MovingWindowRateLimiter(storage_from_string(storage_uri))

    @classmethod
    def for_app(cls, app) -> SenderLimiter:
        limiter = app.extensions.get("gridintake_sender_limiter")
        if limiter is None:
            config = app.config["RUNTIME"].config
            limiter = cls(config.get("limits", "storage_uri"), config.get("limits", "per_sender"))
            app.extensions["gridintake_sender_limiter"] = limiter
        return limiter

    def allow(self, channel: str, sender: str) -> bool:
        try:
            return self.strategy.hit(self.rate, "gridintake", channel, sender)
        except Exception:
            log.exception("rate-limit storage failed; letting the message through")
            return True


def _runtime():
    return current_app.config["RUNTIME"]


def _xml(body: str, status: int = 200) -> Response:
    return Response(body, status=status, mimetype="text/xml")


def public_url() -> str:
    """The URL Twilio signed: GRIDINTAKE_PUBLIC_URL + path, else the request's own URL as the
    client saw it through proxies (X-Forwarded-Proto/Host/Prefix)."""
    path = request.path + (f"?{request.query_string.decode()}" if request.query_string else "")
    base = _runtime().config.get("server", "public_url")
    if base:
        return base.rstrip("/") + path
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
    form = request.form.to_dict(flat=True)
    key = form.get("MessageSid") or form.get("SmsSid")
    sender = form.get("From")
    if not key or not sender:
        return Response("MessageSid and From are required\n", 400, mimetype="text/plain")
    outcome = _handle(sms.TWILIO, key, sender, form.get("Body"),
                      lambda: sms.twilio_inbound(runtime, form))
    return _xml(sms.twiml(outcome.replies))


def _handle(channel: str, key: str, sender: str, text: str | None, build) -> Outcome:
    runtime = _runtime()
    previous = sms.stored_outcome(runtime, channel, key)
    if previous is not None:
        return previous
    if not SenderLimiter.for_app(current_app).allow(channel, sender):
        lang = sms.reporter_language(runtime, channel, sender, text)
        return Outcome([Reply(t("rate_limited", lang))])
    return sms.handle(runtime, build())


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
    return data


@bp.post("/sms/generic")
def generic_webhook():
    from gateway.forwarding.signing import HEADER, SignatureError, verify

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
    outcome = _handle(sms.GENERIC, str(data["id"]), data["from"], data.get("text"),
                      lambda: sms.generic_inbound(data))
    replies = [{"text": sms.render(r), "segments": sms.segments(sms.render(r)).count}
               for r in outcome.replies]
    return jsonify(replies=replies, replayed=outcome.replayed, case_number=outcome.case_number)
