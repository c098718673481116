"""The SMS channel's inbound side: Twilio and generic-gateway messages in, TwiML or JSON replies
out (the routes are `routes.py`, the outbox senders `outbound.py`, the shared rules `rules.py`).

Opt-out. Twilio filters STOP, STOPALL, UNSUBSCRIBE, CANCEL, END, QUIT, REVOKE and OPTOUT on long
codes itself: the message still reaches us, but Twilio answers with its own confirmation and
blocks every later message to the number until START/YES/UNSTOP. We mirror that (the reporter and
every reporter with that phone become `unreachable`, nothing is queued for them) and answer with
an empty TwiML. CANCEL is also our conversation command, but on Twilio it cannot be one — Twilio
has already unsubscribed the resident — so it opts out *and* drops the report in progress; 取消
and 0 cancel a report without opting out. A generic gateway has no such filtering: there CANCEL is
only the conversation command, while STOP opts out and we send the confirmation ourselves. The
Chinese unsubscribe words 退订/TD/T opt out on both, with our confirmation (Twilio does not know
them); 订阅 opts back in like START. Opt-in words only act for a number that is opted out, so
"yes" still confirms a report.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import urlparse

from sqlalchemy import or_, select
from twilio.twiml.messaging_response import MessagingResponse

from bot.handlers.sms.rules import (
    CHINESE_OPT_OUT,
    GENERIC,
    GENERIC_OPT_OUT,
    OPT_IN,
    TWILIO,
    TWILIO_OPT_OUT,
    e164,
    keyword,
    phone_opted_out,
    render,
    twilio_api_base,
)
from bot.i18n import guess_language, normalize_language, t
from bot.safe_fetch import FetchError, FetchPolicy, fetch
from bot.types import Inbound, Outcome, Photo, Reply
from cases import reporters
from storage.db import transaction
from storage.models import Conversation, InboundMessage, Reporter, utcnow
from storage.states import ANSWERED, DialogState, InboundStatus

log = logging.getLogger(__name__)


def twiml(replies: list[Reply]) -> str:
    response = MessagingResponse()
    for reply in replies:
        response.message(render(reply))
    return str(response)


def _set_opt_out(runtime, inbound: Inbound, inbound_id: int, opted_out: bool,
                 reply_key: str | None) -> Outcome:
    """Flip every reporter with this number and mark the stored keyword message processed."""
    with transaction(runtime.sessions) as session:
        reporter = reporters.get_or_create(session, channel=inbound.channel, sender=inbound.sender,
                                           phone=inbound.phone, language=inbound.language,
                                           text=inbound.text or "")
        phone = inbound.phone or inbound.sender
        for other in session.scalars(select(Reporter).where(
                or_(Reporter.phone == phone, Reporter.id == reporter.id))):
            other.unreachable = opted_out
        if opted_out:
            conv = session.scalar(select(Conversation).where(Conversation.reporter_id == reporter.id))
            if conv is not None:
                conv.state, conv.slots = DialogState.IDLE, {}
        replies = [Reply(t(reply_key, reporter.language), key=reply_key)] if reply_key else []
        row = session.get(InboundMessage, inbound_id)
        row.reporter_id, row.status, row.processed_at = reporter.id, InboundStatus.PROCESSED, utcnow()
        row.replies = [r.to_json() for r in replies]
    return Outcome(replies, inbound_id)


def _is_opted_out(runtime, inbound: Inbound) -> bool:
    with transaction(runtime.sessions) as session:
        return phone_opted_out(session, inbound.phone or inbound.sender)


def _opt_change(runtime, inbound: Inbound) -> tuple[bool, str | None] | None:
    """(opted out, reply key) when the message is an opt-out or opt-in keyword of its channel."""
    word = keyword(inbound.text)
    twilio = inbound.channel == TWILIO
    if inbound.photo is None and twilio and word in TWILIO_OPT_OUT:
        return True, None  # Twilio sends its own confirmation and would block ours
    if inbound.photo is None and word in (CHINESE_OPT_OUT if twilio else GENERIC_OPT_OUT):
        return True, "sms_opted_out"
    if inbound.photo is None and word in OPT_IN and _is_opted_out(runtime, inbound):
        return False, "sms_opted_in"
    return None


def handle(runtime, inbound: Inbound) -> Outcome:
    """One SMS through the engine, after the opt-out/opt-in keywords of its channel."""
    change = _opt_change(runtime, inbound)
    if change is None:
        return runtime.engine.handle(inbound)
    recorded = runtime.engine.inbox.record(inbound)  # stored like any other message first
    if recorded.previous_replies is not None:
        return Outcome(recorded.previous_replies, recorded.id, replayed=True)
    return _set_opt_out(runtime, inbound, recorded.id, *change)


def keywords_on_retry(runtime) -> Callable[[int, Inbound], Outcome | None]:
    """For ``Engine.retry_hooks``: a STOP left unprocessed by a crash is still an opt-out, not a
    report; None lets the engine process any other message."""
    def retry(inbound_id: int, inbound: Inbound) -> Outcome | None:
        change = _opt_change(runtime, inbound)
        return None if change is None else _set_opt_out(runtime, inbound, inbound_id, *change)
    return retry


def stored_outcome(runtime, channel: str, key: str) -> Outcome | None:
    """The replies already given to this message, when it was processed before (a retry)."""
    with transaction(runtime.sessions) as session:
        row = session.scalar(select(InboundMessage).where(InboundMessage.channel == channel,
                                                          InboundMessage.idempotency_key == key))
        if row is None or row.status not in ANSWERED:
            return None
        return Outcome([Reply.from_json(r) for r in row.replies or []], row.id, replayed=True)


def reporter_language(runtime, channel: str, sender: str, text: str | None) -> str:
    with transaction(runtime.sessions) as session:
        lang = session.scalar(select(Reporter.language).where(Reporter.channel == channel,
                                                              Reporter.channel_user_id == sender))
    return normalize_language(lang or guess_language(text or ""))


# ---- Twilio inbound ------------------------------------------------------------------------

def _first_image(runtime, form: dict[str, str]) -> tuple[Photo | None, list[dict[str, Any]]]:
    """The first image among MediaUrlN, fetched under the media policy (bot/safe_fetch.py);
    credentials go only to the Twilio API host. A refused fetch keeps the message, without
    the photo (the resident hears the photo could not be read)."""
    config, channels = runtime.config, runtime.settings.channels
    given = (form.get("NumMedia") or "0").strip()  # Twilio sends at most 10
    count = min(int(given), 10) if given.isascii() and given.isdigit() else 0
    api_host = urlparse(twilio_api_base(channels)).netloc
    sid, token = config.secret("TWILIO_ACCOUNT_SID"), config.secret("TWILIO_AUTH_TOKEN")
    policy = FetchPolicy(channels.media_hosts, runtime.settings.bot.max_photo_bytes,
                         channels.media_deadline_s)
    notes, photo = [], None
    for i in range(min(count, 10)):
        url, mime = form.get(f"MediaUrl{i}"), form.get(f"MediaContentType{i}", "")
        if not url:
            continue
        note: dict[str, Any] = {"url": url, "type": mime}
        notes.append(note)
        if photo is not None or not mime.startswith("image/"):
            note["status"] = "skipped"
            continue
        try:
            data = fetch(url, policy, auth=(sid, token) if sid and token else None,
                         auth_host=api_host)
            note.update(status="fetched", size=len(data))
        except FetchError as exc:
            log.warning("MMS media %s not fetched: %s", url, exc)
            note["status"], data = f"error: {exc}", b""
        photo = Photo(data, mime, source_id=url)
    return photo, notes


def twilio_inbound(runtime, form: dict[str, str], fetch_media: bool = True) -> Inbound:
    """A Twilio messaging webhook's form as the engine's message (media fetched, unless the
    message is only kept: its form still holds the MediaUrlN)."""
    sender = form["From"]
    photo, media = _first_image(runtime, form) if fetch_media else (None, [])
    return Inbound(
        channel=TWILIO, sender=sender, key=form.get("MessageSid") or form["SmsSid"],
        text=form.get("Body") or None, photo=photo, phone=sender,
        payload={"twilio": form, "media": media} if media else {"twilio": form},
    )


def generic_inbound(data: dict[str, Any]) -> Inbound:
    """A generic gateway's JSON `{id, from, to, text, received_at}` as the engine's message; the
    sender stays in the provider's form (replies go back through it), the phone becomes E.164."""
    return Inbound(channel=GENERIC, sender=data["from"], key=str(data["id"]),
                   text=data.get("text") or None, phone=e164(data["from"]) or data["from"],
                   payload={"generic": data})


