"""Tencent Cloud SMS (API 2021-01-11): SendSms with the approved template and signature, and the
documented callbacks of residents' replies (回复短信) and delivery receipts (状态报告)."""

from __future__ import annotations

import hashlib
from typing import Any

from bot.handlers.cnsms.receipts import Receipt
from bot.handlers.cnsms.templates import TemplateError, fill
from bot.handlers.sms.rules import TENCENT, e164, phone_opted_out
from bot.types import Inbound
from cases.outbox import PermanentError, RecipientUnreachable, RetryableError
from storage.db import transaction

CHANNEL = TENCENT
ID_FIELD = "serial_no"
ACK = {"result": 0, "errmsg": "OK"}
BLACKLISTED = {"FailedOperation.PhoneNumberInBlacklist"}  # the number replied TD (退订)
PERMANENT_PREFIXES = ("InvalidParameter", "UnsupportedOperation", "MissingParameter",
                      "FailedOperation.TemplateIncorrectOrUnapproved",
                      "FailedOperation.SignatureIncorrectOrUnapproved",
                      "FailedOperation.ContainSensitiveWord")


def client(runtime):
    """The SDK's client (imported here, as only the outbox worker needs it)."""
    from tencentcloud.common.credential import Credential
    from tencentcloud.common.profile.client_profile import ClientProfile
    from tencentcloud.common.profile.http_profile import HttpProfile
    from tencentcloud.sms.v20210111.sms_client import SmsClient

    config, settings = runtime.config, runtime.settings.cnsms
    secret_id, secret_key = config.secret("TENCENT_SECRET_ID"), config.secret("TENCENT_SECRET_KEY")
    if not (secret_id and secret_key and settings.sign_name and settings.tencent_sdk_app_id):
        raise RetryableError("Tencent Cloud SMS is not configured: set GRIDINTAKE_TENCENT_SECRET_ID, "
                             "GRIDINTAKE_TENCENT_SECRET_KEY, [cnsms] sign_name and tencent_sdk_app_id")
    http = HttpProfile(endpoint=settings.tencent_endpoint)
    http.scheme = settings.protocol
    return SmsClient(Credential(secret_id, secret_key), settings.tencent_region,
                     ClientProfile(httpProfile=http))


def _failure(code: str, message: str) -> Exception:
    if code in BLACKLISTED:
        return RecipientUnreachable(f"Tencent {code}: {message}")
    if code.startswith(PERMANENT_PREFIXES):
        return PermanentError(f"Tencent {code}: {message}")
    return RetryableError(f"Tencent {code}: {message}")


def send(runtime, row) -> dict:
    with transaction(runtime.sessions) as session:
        if phone_opted_out(session, row.target):
            raise RecipientUnreachable(f"{row.target} opted out (退订)")
    try:
        filled = fill("tencent", (row.payload or {}).get("template"))
    except TemplateError as exc:
        raise PermanentError(str(exc)) from None
    from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException
    from tencentcloud.sms.v20210111.models import SendSmsRequest

    settings = runtime.settings.cnsms
    request = SendSmsRequest()
    request.PhoneNumberSet = [row.target]
    request.SmsSdkAppId, request.SignName = settings.tencent_sdk_app_id, settings.sign_name
    request.TemplateId, request.TemplateParamSet = filled.code, list(filled.params.values())
    request.SessionContext = str(row.id)
    try:
        status = client(runtime).SendSms(request).SendStatusSet[0]
    except TencentCloudSDKException as exc:
        raise _failure(exc.code or "", exc.message or "") from None
    if status.Code == "Ok":
        return {ID_FIELD: status.SerialNo, "template": filled.code, "fee": status.Fee}
    raise _failure(status.Code, status.Message)


def uplink(item: dict[str, Any]) -> Inbound:
    """One reply: {mobile, nationcode, text, sign, time, extend}. It carries no id, so the key is
    the number, the time and the text."""
    nation, mobile = str(item.get("nationcode") or "86"), str(item["mobile"]).strip()
    phone = e164(mobile) if nation == "86" else f"+{nation}{mobile}"
    text = item.get("text") or ""
    digest = hashlib.sha256(text.encode()).hexdigest()[:12]
    return Inbound(channel=CHANNEL, sender=phone or mobile, key=f"{mobile}:{int(item['time'])}:{digest}",
                   text=text or None, phone=phone or mobile, payload={"tencent": item})


def receipt(item: dict[str, Any]) -> Receipt:
    """One report: {mobile, report_status SUCCESS|FAIL, errmsg, description, sid, …}."""
    return Receipt(None, item.get("sid"), item["report_status"] == "SUCCESS",
                   str(item.get("errmsg") or ""), str(item.get("description") or ""),
                   item.get("user_receive_time"))
