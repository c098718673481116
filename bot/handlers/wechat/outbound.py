"""WeChat messages from the outbox: a customer-service message (message/custom/send) while the
resident wrote to us within the service window (48 h), the approved template message after it
or when WeChat says the window has closed (45015)."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import requests
from sqlalchemy import func, select
from wechatpy.exceptions import APILimitedException, WeChatClientException

from bot.handlers.wechat.handler import render
from bot.handlers.wechat.incoming import CHANNEL
from bot.types import Reply
from cases.outbox import PermanentError, RecipientUnreachable, RetryableError
from settings.config import ConfigError
from storage.db import transaction
from storage.models import InboundMessage, utcnow

OUT_OF_WINDOW = {45015, 45047}  # no message from the resident for 48 h; too many unanswered
UNFOLLOWED = {43004, 43019}  # the resident does not follow the account or blocked it
BAD_TARGET = {40003, 40037, 47001}  # unknown openid, unknown template, a malformed body
CHINA = ZoneInfo("Asia/Shanghai")


def _last_heard(runtime, openid: str) -> datetime | None:
    with transaction(runtime.sessions) as session:
        return session.scalar(select(func.max(InboundMessage.received_at)).where(
            InboundMessage.channel == CHANNEL, InboundMessage.sender == openid))


def _text(row) -> str:
    payload = row.payload or {}
    return render([Reply.from_json({"text": payload.get("text", ""),
                                    "choices": payload.get("choices", [])})])


def _template(runtime, row) -> dict:
    settings = runtime.settings.wechat
    if not settings.template_id:
        raise PermanentError("outside the 48-hour window and no [wechat] template_id to use")
    fields, payload = settings.template_fields, row.payload or {}
    values = {"case": payload.get("case") or "-", "text": payload.get("text", "")[:20],
              "time": datetime.now(CHINA).strftime("%Y-%m-%d %H:%M")}
    data = {fields[name]: {"value": value} for name, value in values.items() if name in fields}
    result = runtime.wechat.message.send_template(row.target, settings.template_id, data)
    return {"via": "template", "msgid": result.get("msgid")}


def _fail(exc: WeChatClientException) -> Exception:
    code = exc.errcode
    if code in UNFOLLOWED:
        return RecipientUnreachable(f"WeChat {code}: {exc.errmsg}")
    if code in BAD_TARGET:
        return PermanentError(f"WeChat {code}: {exc.errmsg}")
    return RetryableError(f"WeChat {code}: {exc.errmsg}")


def send(runtime, row) -> dict:
    try:
        heard = _last_heard(runtime, row.target)
        window = timedelta(hours=runtime.settings.wechat.service_window_hours)
        if heard is None or utcnow() - heard > window:
            return _template(runtime, row)
        try:
            runtime.wechat.message.send_text(row.target, _text(row))
            return {"via": "custom"}
        except WeChatClientException as exc:
            if exc.errcode not in OUT_OF_WINDOW or isinstance(exc, APILimitedException):
                raise
        return _template(runtime, row)
    except ConfigError as exc:
        raise RetryableError(str(exc)) from None
    except WeChatClientException as exc:
        raise _fail(exc) from None
    except requests.RequestException as exc:
        raise RetryableError(f"{type(exc).__name__}: {exc}") from None
