"""The SMS rules both providers share: channel names, segment counting, how a reply reads as one
text, the opt-out and opt-in words, and phone numbers as E.164."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from bot.types import Reply
from settings.typed import ChannelSettings
from storage.models import Reporter

TWILIO = "sms"
GENERIC = "generic_sms"
ALIYUN = "aliyun_sms"  # mainland providers (bot/handlers/cnsms/): same words, same opt-outs
TENCENT = "tencent_sms"
SMS_CHANNELS = (TWILIO, GENERIC, ALIYUN, TENCENT)
DEFAULT_TWILIO_API = "https://api.twilio.com"


def twilio_api_base(channels: ChannelSettings) -> str:
    return (channels.twilio_api_base or DEFAULT_TWILIO_API).rstrip("/")


# ---- segments ------------------------------------------------------------------------------

GSM7_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = "^{}\\[~]|€\f"  # two septets each (escape + char)
_BASIC, _EXT = frozenset(GSM7_BASIC), frozenset(GSM7_EXTENSION)


@dataclass(frozen=True)
class Segments:
    encoding: str  # GSM-7 | UCS-2
    units: int  # septets (GSM-7) or UTF-16 code units (UCS-2)
    count: int


def _parts(sizes: list[int], per_part: int) -> int:
    """Greedy split that never breaks an escape pair or a surrogate pair across parts."""
    parts, used = 1, 0
    for size in sizes:
        if used + size > per_part:
            parts, used = parts + 1, 0
        used += size
    return parts


def segments(text: str) -> Segments:
    """How many SMS parts a text takes: GSM-7 160/153 septets, else UCS-2 70/67 units."""
    if all(ch in _BASIC or ch in _EXT for ch in text):
        sizes = [2 if ch in _EXT else 1 for ch in text]
        single, multi, encoding = 160, 153, "GSM-7"
    else:
        sizes = [len(ch.encode("utf-16-le")) // 2 for ch in text]
        single, multi, encoding = 70, 67, "UCS-2"
    units = sum(sizes)
    if units <= single:
        return Segments(encoding, units, 1 if units else 0)
    return Segments(encoding, units, max(_parts(sizes, multi), math.ceil(units / multi)))


def render(reply: Reply) -> str:
    """A reply as one SMS text: the choices are spelled out unless the text names them."""
    text = reply.text
    if reply.choices and not any(c.key in text for c in reply.choices):
        text += " " + " ".join(f"{c.key}={c.label}" for c in reply.choices)
    return text


# ---- opt-out -------------------------------------------------------------------------------

TWILIO_OPT_OUT = frozenset({"stop", "stopall", "unsubscribe", "cancel", "end", "quit", "revoke",
                            "optout"})
# The Chinese operators' unsubscribe words (退订, TD, T): no provider filters them, so we confirm.
CHINESE_OPT_OUT = frozenset({"td", "t", "退订"})
GENERIC_OPT_OUT = frozenset({"stop", "stopall", "unsubscribe", "end", "quit", "revoke", "optout"}
                            | CHINESE_OPT_OUT)
OPT_IN = frozenset({"start", "yes", "unstop", "订阅"})


def keyword(text: str | None) -> str:
    return (text or "").strip().strip(".!！。").lower()


def phone_opted_out(session: Session, phone: str) -> bool:
    """Any SMS reporter with this number said STOP (and not START since)."""
    sms = Reporter.channel.in_(SMS_CHANNELS)
    # Each arm has an index of its own (phone; channel + channel_user_id), so this is two
    # index probes, not a scan of every reporter per message.
    return session.scalar(
        select(Reporter.id).where(or_(and_(Reporter.phone == phone, sms),
                                      and_(sms, Reporter.channel_user_id == phone)),
                                  Reporter.unreachable.is_(True)).limit(1)
    ) is not None


def e164(raw: str) -> str | None:
    """A phone number as E.164 (Chinese mobiles and landlines without +86 included), or None."""
    digits = re.sub(r"[\s\-().]", "", raw)
    if re.fullmatch(r"1[3-9]\d{9}", digits):
        return "+86" + digits
    if re.fullmatch(r"(?:\+?86|0086)1[3-9]\d{9}", digits):
        return "+86" + digits[-11:]
    if re.fullmatch(r"0[1-9]\d{8,10}", digits):  # a landline with its area code
        return "+86" + digits[1:]
    if re.fullmatch(r"\+[1-9]\d{6,14}", digits):
        return digits
    return None
