"""One WeChat message through the engine, answered within WeChat's 5 s or later.

The engine runs in a worker thread; the webhook waits up to `[wechat] reply_within_s` for it. An
answer ready by then goes back as the passive XML reply. One that is not (a slow photo download,
a busy database) is stored first, WeChat gets "success", and the replies follow as a
customer-service message through the outbox (`notices.late_replies`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as WaitTimeout

import requests
from sqlalchemy import select
from wechatpy.exceptions import WeChatClientException

from bot.handlers.wechat.incoming import CHANNEL, Incoming
from bot.i18n import normalize_language, t
from bot.inbox import Refusal
from bot.types import Outcome, Photo, Reply
from cases import notices
from storage.db import transaction
from storage.models import InboundMessage, Outbox, Reporter, utcnow
from storage.states import InboundStatus

log = logging.getLogger(__name__)
WORKERS = 8  # messages processed at once per gateway process


def render(replies: list[Reply]) -> str:
    """The replies as one WeChat text; each choice a link that sends its key back when tapped."""
    parts = []
    for reply in replies:
        links = [f'<a href="weixin://bizmsgmenu?msgmenucontent={c.key}&msgmenuid={i}">'
                 f"{c.key} {c.label}</a>" for i, c in enumerate(reply.choices, 1)]
        parts.append("\n".join([reply.text, *links]))
    return "\n\n".join(parts)


def _language(runtime, sender: str) -> str:
    with transaction(runtime.sessions) as session:
        return normalize_language(session.scalar(select(Reporter.language).where(
            Reporter.channel == CHANNEL, Reporter.channel_user_id == sender)))


def _keep(runtime, incoming: Incoming) -> Outcome:
    """Store a message that is no conversation turn, processed at once with no reply; a follow or
    unfollow also flips whether we may write to the resident."""
    inbound = incoming.inbound
    recorded = runtime.engine.inbox.record(inbound)
    with transaction(runtime.sessions) as session:
        reporter = session.scalar(select(Reporter).where(Reporter.channel == CHANNEL,
                                                         Reporter.channel_user_id == inbound.sender))
        if reporter is not None and incoming.follow is not None:
            reporter.unreachable = not incoming.follow
        row = session.get(InboundMessage, recorded.id)
        if row.status == InboundStatus.RECEIVED:
            row.status, row.processed_at, row.replies = InboundStatus.PROCESSED, utcnow(), []
            row.reporter_id = reporter.id if reporter else None
    return Outcome([], recorded.id)


def _photo(runtime, media_id: str | None) -> Photo:
    """The image by media/get; empty bytes when it cannot be had, so the engine asks again."""
    try:
        resp = runtime.wechat.media.download(media_id)
    except (WeChatClientException, requests.RequestException) as exc:
        log.warning("WeChat media %s not fetched: %s", media_id, exc)
        return Photo(b"", None, source_id=media_id)
    declared = int(resp.headers.get("Content-Length") or 0)
    data = b"" if declared > runtime.settings.bot.max_photo_bytes else resp.content
    return Photo(data, resp.headers.get("Content-Type"), source_id=media_id)


def process(runtime, incoming: Incoming) -> Outcome:
    """Everything after the checks: store, fetch the image, run the engine."""
    inbound = incoming.inbound
    if incoming.keep_only:
        return _keep(runtime, incoming)
    if incoming.answer_key:
        lang = _language(runtime, inbound.sender)
        refusal = Refusal(f"answered: {incoming.answer_key}", [Reply(t(incoming.answer_key, lang))])
        return runtime.engine.refuse(inbound, refusal)
    if incoming.follow:
        _keep_follow(runtime, inbound.sender)
    if incoming.media_id is not None:
        inbound.photo = _photo(runtime, incoming.media_id)
    return runtime.engine.handle(inbound)


def _keep_follow(runtime, sender: str) -> None:
    """A resident who follows again may be written to again."""
    with transaction(runtime.sessions) as session:
        reporter = session.scalar(select(Reporter).where(Reporter.channel == CHANNEL,
                                                         Reporter.channel_user_id == sender))
        if reporter is not None:
            reporter.unreachable = False


def _late(runtime, sender: str) -> Callable[[Future], None]:
    """When the engine finishes after the passive reply's time: its replies via the outbox."""
    def done(future: Future) -> None:
        try:
            outcome = future.result()
        except Exception:
            log.exception("WeChat message from %s failed after the passive reply", sender)
            return
        if outcome.replayed or not outcome.replies:
            return
        with transaction(runtime.sessions) as session:
            reporter = session.scalar(select(Reporter).where(Reporter.channel == CHANNEL,
                                                             Reporter.channel_user_id == sender))
            if reporter is not None:
                notices.late_replies(session, reporter, outcome.inbound_id, outcome.replies)
    return done


def _answered_late(runtime, inbound_id: int | None) -> bool:
    with transaction(runtime.sessions) as session:
        return session.scalar(select(Outbox.id).where(
            Outbox.idempotency_key == f"replies:{inbound_id}")) is not None


def answer(runtime, pool: ThreadPoolExecutor, incoming: Incoming) -> list[Reply]:
    """The passive reply's messages; empty when the answer comes later or not at all. A retry
    of a message answered late is not answered twice."""
    future = pool.submit(process, runtime, incoming)
    try:
        outcome = future.result(timeout=runtime.settings.wechat.reply_within_s)
    except WaitTimeout:
        runtime.engine.inbox.record(incoming.inbound)  # stored before WeChat hears "success"
        future.add_done_callback(_late(runtime, incoming.inbound.sender))
        return []
    if outcome.replayed and _answered_late(runtime, outcome.inbound_id):
        return []
    return outcome.replies


def refuse(runtime, incoming: Incoming, refusal_for: Callable[[str], Refusal]) -> list[Reply]:
    """Over the rate limit: stored answered with the polite reply, not processed."""
    return runtime.engine.refuse(incoming.inbound,
                                 refusal_for(_language(runtime, incoming.inbound.sender))).replies
