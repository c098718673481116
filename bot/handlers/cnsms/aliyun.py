"""Aliyun SMS (dysmsapi 2017-05-25): SendSms with the approved template and signature, and the
documented HTTP batch pushes of residents' replies (SmsUp) and delivery receipts (SmsReport)."""

from __future__ import annotations

import json
from typing import Any

from bot.handlers.cnsms.receipts import Receipt
from bot.handlers.cnsms.templates import TemplateError, fill
from bot.handlers.sms.rules import ALIYUN, e164, phone_opted_out
from bot.types import Inbound
from cases.outbox import PermanentError, RecipientUnreachable, RetryableError
from storage.db import transaction

CHANNEL = ALIYUN
ID_FIELD = "biz_id"
ACK = {"code": 0, "msg": "成功"}  # what the push expects back, else it pushes again
BLACKLISTED = {"isv.BLACK_KEY_CONTROL_LIMIT"}  # the number replied TD: Aliyun blocks it
PERMANENT = {"isv.MOBILE_NUMBER_ILLEGAL", "isv.SMS_TEMPLATE_ILLEGAL", "isv.SMS_SIGNATURE_ILLEGAL",
             "isv.TEMPLATE_MISSING_PARAMETERS", "isv.INVALID_PARAMETERS", "isv.PARAM_LENGTH_LIMIT",
             "isv.INVALID_JSON_PARAM", "isv.SMS_CONTENT_ILLEGAL", "isv.TEMPLATE_PARAMS_ILLEGAL",
             "isv.MOBILE_COUNT_OVER_LIMIT", "isv.SMS_SIGN_ILLEGAL"}


def client(runtime):
    """The SDK's client (imported here: it takes seconds, and only the outbox worker needs it)."""
    from alibabacloud_dysmsapi20170525.client import Client
    from alibabacloud_tea_openapi.models import Config as ApiConfig

    config, settings = runtime.config, runtime.settings.cnsms
    key_id, secret = config.secret("ALIYUN_ACCESS_KEY_ID"), config.secret("ALIYUN_ACCESS_KEY_SECRET")
    if not (key_id and secret and settings.sign_name):
        raise RetryableError("Aliyun SMS is not configured: set GRIDINTAKE_ALIYUN_ACCESS_KEY_ID, "
                             "GRIDINTAKE_ALIYUN_ACCESS_KEY_SECRET and [cnsms] sign_name")
    return Client(ApiConfig(access_key_id=key_id, access_key_secret=secret,
                            endpoint=settings.aliyun_endpoint, protocol=settings.protocol))


def provider_number(phone: str) -> str:
    """Aliyun's form: a mainland mobile without +86, else country code and number without +."""
    return phone[3:] if phone.startswith("+86") else phone.lstrip("+")


def send(runtime, row) -> dict:
    with transaction(runtime.sessions) as session:
        if phone_opted_out(session, row.target):
            raise RecipientUnreachable(f"{row.target} opted out (退订)")
    try:
        filled = fill("aliyun", (row.payload or {}).get("template"))
    except TemplateError as exc:
        raise PermanentError(str(exc)) from None
    from alibabacloud_dysmsapi20170525.models import SendSmsRequest

    request = SendSmsRequest(
        phone_numbers=provider_number(row.target), sign_name=runtime.settings.cnsms.sign_name,
        template_code=filled.code, out_id=str(row.id),
        template_param=json.dumps(filled.params, ensure_ascii=False) if filled.params else None)
    try:
        body = client(runtime).send_sms(request).body
    except RetryableError:
        raise
    except Exception as exc:  # the SDK's own transport and HTTP error types
        raise RetryableError(f"Aliyun SendSms: {type(exc).__name__}: {exc}") from None
    if body.code == "OK":
        return {ID_FIELD: body.biz_id, "template": filled.code}
    if body.code in BLACKLISTED:
        raise RecipientUnreachable(f"Aliyun {body.code}: {body.message}")
    if body.code in PERMANENT:
        raise PermanentError(f"Aliyun {body.code}: {body.message}")
    raise RetryableError(f"Aliyun {body.code}: {body.message}")


def uplink(item: dict[str, Any]) -> Inbound:
    """One SmsUp item: {phone_number, content, send_time, sign_name, dest_code, sequence_id}."""
    raw = str(item["phone_number"]).strip()
    phone = e164(raw) or raw
    return Inbound(channel=CHANNEL, sender=phone, key=str(item["sequence_id"]),
                   text=item.get("content") or None, phone=phone, payload={"aliyun": item})


def receipt(item: dict[str, Any]) -> Receipt:
    """One SmsReport item: {phone_number, success, err_code, err_msg, biz_id, out_id, …}."""
    out_id = str(item.get("out_id") or "")
    return Receipt(int(out_id) if out_id.isdigit() else None, item.get("biz_id"),
                   item["success"] is True, str(item.get("err_code") or ""),
                   str(item.get("err_msg") or ""), item.get("report_time"))
