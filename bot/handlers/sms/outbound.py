"""Outbound SMS from the outbox: Twilio's REST API and the generic gateway's signed JSON, each
mapping the provider's answers onto the worker's failure kinds. A number that opted out is
never texted."""

from __future__ import annotations

import json
import threading
from typing import Any

import httpx
import requests
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client

from bot.handlers.sms.rules import phone_opted_out, render, segments, twilio_api_base
from bot.rate_limits import SharedPacer, in_memory
from bot.signing import HEADER, signature
from bot.types import Reply
from cases.outbox import PermanentError, RecipientUnreachable, RetryableError
from storage.db import transaction


def outbound_text(row) -> str:
    payload = row.payload or {}
    return render(Reply.from_json({"text": payload.get("text", ""),
                                   "choices": payload.get("choices", [])}))


def _refuse_opted_out(runtime: Any, row: Any) -> None:
    with transaction(runtime.sessions) as session:
        if phone_opted_out(session, row.target):
            raise RecipientUnreachable(f"{row.target} opted out (STOP)")


_pacers: dict[tuple[str, int], SharedPacer] = {}
_pacers_lock = threading.Lock()


def pace(runtime: Any, phone: str) -> None:
    """Wait for the city-wide SMS pace (`[sms] per_second`, kept in Redis) before a send."""
    per_second, storage = runtime.settings.channels.sms_per_second, runtime.settings.limits.storage_uri
    if per_second <= 0 or in_memory(storage):
        return
    with _pacers_lock:
        pacer = _pacers.get((storage, per_second))
        if pacer is None:
            pacer = _pacers[storage, per_second] = SharedPacer(storage, "sms", per_second, 1.0)
    pacer.wait(phone)


def twilio_client(runtime):
    """The REST client, pointed at `[sms] twilio_api_base` when set (tests use a local server)."""
    config = runtime.config
    sid, token = config.secret("TWILIO_ACCOUNT_SID"), config.secret("TWILIO_AUTH_TOKEN")
    if not (sid and token):
        return None
    client = Client(sid, token)
    client.api.base_url = twilio_api_base(runtime.settings.channels)
    return client


# Twilio error codes that retrying cannot fix; 21610 means the number replied STOP.
TWILIO_UNSUBSCRIBED = 21610
TWILIO_PERMANENT = {21211, 21408, 21612, 21614, 21617, 21635, 30003, 30005, 30006}


def send_twilio(runtime, row) -> dict:
    _refuse_opted_out(runtime, row)
    client = twilio_client(runtime)
    sender = runtime.config.secret("TWILIO_FROM")
    if client is None or not sender:
        raise RetryableError("Twilio is not configured: set GRIDINTAKE_TWILIO_ACCOUNT_SID, "
                             "GRIDINTAKE_TWILIO_AUTH_TOKEN and GRIDINTAKE_TWILIO_FROM")
    text = outbound_text(row)
    origin = {"messaging_service_sid": sender} if sender.startswith("MG") else {"from_": sender}
    pace(runtime, row.target)
    try:
        message = client.messages.create(to=row.target, body=text, **origin)
    except TwilioRestException as exc:
        if exc.code == TWILIO_UNSUBSCRIBED:
            raise RecipientUnreachable(exc.msg) from None
        if exc.status == 429 or exc.status >= 500:
            raise RetryableError(f"Twilio {exc.status}: {exc.msg}") from None
        if exc.code in TWILIO_PERMANENT or 400 <= exc.status < 500:
            raise PermanentError(f"Twilio {exc.status}/{exc.code}: {exc.msg}") from None
        raise RetryableError(f"Twilio {exc.status}: {exc.msg}") from None
    except requests.RequestException as exc:
        raise RetryableError(f"{type(exc).__name__}: {exc}") from None
    return {"sid": message.sid, "status": message.status, "segments": segments(text).count}


def send_generic(runtime, row) -> dict:
    _refuse_opted_out(runtime, row)
    url = runtime.settings.channels.generic_outbound_url
    secret = runtime.config.secret("SMS_GENERIC_SECRET")
    if not (url and secret):
        raise RetryableError("generic SMS is not configured: set [sms] generic_outbound_url and "
                             "GRIDINTAKE_SMS_GENERIC_SECRET")
    text = outbound_text(row)
    body = json.dumps({"id": row.idempotency_key, "to": row.target, "text": text},
                      ensure_ascii=False).encode()
    headers = {"Content-Type": "application/json", HEADER: signature(secret, body)}
    pace(runtime, row.target)
    try:
        resp = httpx.post(url, content=body, headers=headers, timeout=10.0)
    except httpx.HTTPError as exc:
        raise RetryableError(f"{type(exc).__name__}: {exc}") from None
    if resp.status_code == 410:
        raise RecipientUnreachable(f"{row.target}: the gateway says the number opted out")
    if resp.status_code == 429 or resp.status_code >= 500:
        raise RetryableError(f"gateway answered HTTP {resp.status_code}")
    if resp.status_code >= 400:
        raise PermanentError(f"gateway answered HTTP {resp.status_code}: {resp.text[:200]}")
    return {"status": resp.status_code, "segments": segments(text).count}
