"""The Telegram channel: python-telegram-bot v22 handlers that turn Updates into the engine's Inbound.

No business logic here: a message, photo, pin or button press becomes one `Inbound`, the engine
(synchronous SQLAlchemy, so run in a worker thread) answers, and its replies become messages with
an inline keyboard (choices) or a reply keyboard asking for the location. Polling
(`gridintake telegram`, `poll_updates`) and webhook mode (`routes.py`) build the
same Application.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import warnings
import weakref
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import update as sql_update
from telegram import (
    BotCommand,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    Message,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
    Update,
)
from telegram.error import Forbidden, RetryAfter, TelegramError
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    ContextTypes,
    MessageHandler,
    filters,
)
from telegram.warnings import PTBDeprecationWarning, PTBUserWarning

from bot.handlers.telegram.outbound import CHANNEL, bot_base_url, choice_rows, file_base_url
from bot.i18n import guess_language, normalize_language
from bot.inbox import Refusal
from bot.rate_limits import SenderLimiter
from bot.types import Inbound, Photo, Reply
from settings.config import ConfigError
from storage.db import transaction
from storage.faults import Backoff, describe, storage_unavailable
from storage.models import Reporter

log = logging.getLogger(__name__)

COMMANDS = {
    "zh": [("report", "上报问题"), ("status", "查询案件：/status 案件号"), ("mycases", "我的案件"),
           ("cancel", "取消当前上报"), ("lang", "Switch to English"), ("help", "帮助"),
           ("start", "开始")],
    "en": [("report", "Report a problem"), ("status", "Case status: /status NUMBER"),
           ("mycases", "My cases"), ("cancel", "Cancel the current report"),
           ("lang", "切换为中文"), ("help", "Help"), ("start", "Start")],
}
LOCATION_BUTTON = {"zh": "📍 发送我的位置", "en": "📍 Send my location"}
CONTACT_BUTTON = {"zh": "📱 用我的手机号绑定", "en": "📱 Link my phone number"}
LOCATION_PROMPT = {"zh": "也可点下方按钮发送定位。", "en": "Or tap the button below to send your location."}
CONCURRENT_UPDATES = 8  # chats handled at once; the engine runs in worker threads
KEYBOARD_SHOWN = "location_keyboard_shown"  # chat_data flag: the location keyboard is up


@dataclass(frozen=True)
class TelegramSettings:
    token: str
    base_url: str
    base_file_url: str

    @classmethod
    def from_runtime(cls, runtime: Any, base_url: str | None = None,
                     base_file_url: str | None = None) -> TelegramSettings:
        token = runtime.config.secret("TELEGRAM_TOKEN")
        if not token:
            raise ConfigError("GRIDINTAKE_TELEGRAM_TOKEN is not set: put the bot token from @BotFather there")
        base = bot_base_url(base_url or runtime.settings.channels.telegram_base_url)
        return cls(token, base, base_file_url or file_base_url(base))


# ---- Update → Inbound --------------------------------------------------------------------------


def inbound_from_update(update: Update, photo: Photo | None = None) -> Inbound | None:
    """The engine's message for an Update; None for updates that are not a resident writing.

    The idempotency key is chat:message (update ids restart at random after a quiet week), or
    the callback query id for a button press, whose data is the choice key the resident picked.
    """
    user, chat = update.effective_user, update.effective_chat
    if chat is None:
        return None
    common: dict[str, Any] = {
        "channel": CHANNEL, "sender": str(chat.id), "payload": update.to_dict(),
        "language": user.language_code if user else None,
        "display_name": user.full_name if user else None,
    }
    query = update.callback_query
    if query is not None:
        return Inbound(key=f"callback:{query.id}", text=query.data, **common)
    message = update.message
    if message is None:  # edits, channel posts, member changes: not a report
        return None
    location = message.location
    text = message.text or message.caption
    if message.contact is not None:
        # Only the sender's own number starts a link (by the code we then text to it); a
        # contact card of someone else is asked about again.
        own = user is not None and message.contact.user_id == user.id
        text = f"/link {message.contact.phone_number}" if own else "/link"
    return Inbound(
        key=f"{chat.id}:{message.message_id}", text=text,
        location=(location.latitude, location.longitude) if location else None,
        photo=photo, **common,
    )


@dataclass(frozen=True)
class Attached:
    file_id: str
    file_size: int | None
    mime: str | None


def attachment_of(message: Message) -> Attached | None:
    """The largest PhotoSize of a photo, or a file sent as a document (checked as an image later)."""
    if message.photo:
        largest = max(message.photo, key=lambda p: (p.width * p.height, p.file_size or 0))
        return Attached(largest.file_id, largest.file_size, "image/jpeg")
    if message.document:
        doc = message.document
        return Attached(doc.file_id, doc.file_size, doc.mime_type)
    return None


# ---- Reply → messages ---------------------------------------------------------------------------


def reply_language(reply: Reply) -> str:
    """The resident's language as the engine knew it (a reply quoting a Chinese place name to an
    English resident is still English), else guessed from the words."""
    return normalize_language(reply.language or guess_language(reply.text) or "zh")


def render(reply: Reply, keyboard_shown: bool) -> list[tuple[str, Any]]:
    """(text, reply_markup) messages for one reply.

    Choices become an inline keyboard whose callback data is the choice key; a location request
    becomes a reply keyboard with a request_location button. A message carries one markup, so a
    reply with both gets a short second message for the location button; a plain reply after the
    location keyboard was shown takes it away again.
    """
    lang = reply_language(reply)
    location = ReplyKeyboardMarkup(
        [[KeyboardButton(LOCATION_BUTTON[lang], request_location=True)]],
        resize_keyboard=True, one_time_keyboard=True,
    )
    if reply.choices:
        inline = InlineKeyboardMarkup(
            [[InlineKeyboardButton(c.label, callback_data=c.key) for c in row]
             for row in choice_rows(reply.choices)]
        )
        messages: list[tuple[str, Any]] = [(reply.text, inline)]
        if reply.request_location:
            messages.append((LOCATION_PROMPT[lang], location))
        return messages
    if reply.request_location:
        return [(reply.text, location)]
    if reply.request_contact:
        return [(reply.text, ReplyKeyboardMarkup(
            [[KeyboardButton(CONTACT_BUTTON[lang], request_contact=True)]],
            resize_keyboard=True, one_time_keyboard=True))]
    return [(reply.text, ReplyKeyboardRemove() if keyboard_shown else None)]


# ---- the channel ---------------------------------------------------------------------------------


class TelegramChannel:
    def __init__(self, runtime: Any) -> None:
        self.runtime = runtime
        self.max_photo_bytes = runtime.settings.bot.max_photo_bytes
        # the SMS routes' limiter: same storage (memory, or Redis shared by every process), and
        # a storage failure lets the message through rather than lose it
        self.limiter = SenderLimiter.from_settings(runtime.settings.limits)
        self._chat_locks: weakref.WeakValueDictionary[int, asyncio.Lock] = weakref.WeakValueDictionary()
        self.unstored: set[int] = set()  # update ids whose storage failed: not to be acknowledged

    def install(self, app: Application) -> None:
        private = filters.ChatType.PRIVATE
        app.add_handler(CallbackQueryHandler(self.on_update))
        app.add_handler(MessageHandler(private & filters.UpdateType.MESSAGE, self.on_update))

    async def on_update(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Updates run concurrently across chats, one at a time within a chat."""
        chat = update.effective_chat
        if chat is None:
            return
        lock = self._chat_locks.setdefault(chat.id, asyncio.Lock())
        try:
            async with lock:
                await self._handle(update, context, chat.id)
        except Exception as exc:
            if storage_unavailable(exc):
                self.unstored.add(update.update_id)
            raise

    def keep_unparseable(self, data: dict, error: BaseException) -> None:
        """Store an update the library cannot read (raw, status unparseable) and skip it."""
        update_id = data.get("update_id")
        key = (f"update:{update_id}" if isinstance(update_id, int) else
               "raw:" + hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:40])
        message = next((v for v in data.values() if isinstance(v, dict)), {})
        chat = message.get("chat") or (message.get("message") or {}).get("chat") or message.get("from")
        sender = str(chat.get("id", "?")) if isinstance(chat, dict) else "?"
        log.warning("telegram update %s is unparseable (%s): stored raw and skipped", update_id,
                    describe(error))
        self.runtime.engine.inbox.keep_unparseable(CHANNEL, key, sender[:120], data, describe(error))

    async def _handle(self, update: Update, context: ContextTypes.DEFAULT_TYPE, chat_id: int) -> None:
        user, query = update.effective_user, update.callback_query
        if query is not None:
            await _settle_button(query)
        if not self.limiter.allow(CHANNEL, str(chat_id)):
            lang = normalize_language(user.language_code if user else None)
            refusal = Refusal.rate_limited(lang)
            kept, replies = inbound_from_update(update), refusal.replies  # a photo not downloaded
            if kept is not None:
                replies = (await asyncio.to_thread(self.runtime.engine.refuse, kept, refusal)).replies
            await self._send(context, chat_id, replies)
            return
        photo = await self._photo(update.message, context) if update.message else None
        inbound = inbound_from_update(update, photo)
        if inbound is None:
            return
        await asyncio.to_thread(self._set_unreachable, inbound.sender, False)
        outcome = await asyncio.to_thread(self.runtime.engine.handle, inbound)
        await self._send(context, chat_id, outcome.replies)

    async def _photo(self, message: Message, context: ContextTypes.DEFAULT_TYPE) -> Photo | None:
        """Download the attachment unless Telegram's sizes already show it is over the limit.

        A refused file reaches the engine as empty bytes, so it is stored and answered politely
        like any other unusable photo.
        """
        attached = attachment_of(message)
        if attached is None:
            return None
        refused = Photo(b"", attached.mime, attached.file_id)
        if attached.file_size is not None and attached.file_size > self.max_photo_bytes:
            return refused
        try:
            file = await context.bot.get_file(attached.file_id)
            if file.file_size is not None and file.file_size > self.max_photo_bytes:
                return refused
            data = bytes(await file.download_as_bytearray())
        except TelegramError as error:  # "file is too big" (over 20 MB), network trouble
            log.info("photo %s not downloaded: %s", attached.file_id, error)
            return refused
        return Photo(data, attached.mime, attached.file_id)

    async def _send(self, context: ContextTypes.DEFAULT_TYPE, chat_id: int, replies: list[Reply]) -> None:
        for reply in replies:
            for text, markup in render(reply, bool(context.chat_data.get(KEYBOARD_SHOWN))):
                try:
                    await context.bot.send_message(chat_id, text, reply_markup=markup)
                except Forbidden as error:
                    log.info("chat %s refuses messages: %s", chat_id, error)
                    await asyncio.to_thread(self._set_unreachable, str(chat_id), True)
                    return
                if isinstance(markup, ReplyKeyboardMarkup):
                    context.chat_data[KEYBOARD_SHOWN] = True
                elif isinstance(markup, ReplyKeyboardRemove):
                    context.chat_data[KEYBOARD_SHOWN] = False

    def _set_unreachable(self, sender: str, value: bool) -> None:
        """Blocked → no outbound messages; writing to us again makes the resident reachable."""
        with transaction(self.runtime.sessions) as session:
            session.execute(
                sql_update(Reporter)
                .where(Reporter.channel == CHANNEL, Reporter.channel_user_id == sender,
                       Reporter.unreachable != value)
                .values(unreachable=value)
            )


async def _settle_button(query: Any) -> None:
    """Answer the press (the client stops its spinner) and take the pressed keyboard away, so an
    old button cannot answer a later question. Both fail harmlessly on very old messages."""
    try:
        await query.answer()
        if isinstance(query.message, Message) and query.message.reply_markup is not None:
            await query.message.edit_reply_markup(reply_markup=None)
    except TelegramError as error:
        log.debug("button press %s not settled: %s", query.id, error)


async def setup_bot(app: Application) -> None:
    """Start-up: the command menu in Chinese (default) and English."""
    for lang, language_code in (("zh", None), ("en", "en")):
        commands = [BotCommand(name, description) for name, description in COMMANDS[lang]]
        await app.bot.set_my_commands(commands, language_code=language_code)


def application_builder(settings: TelegramSettings) -> ApplicationBuilder:
    return (ApplicationBuilder().token(settings.token)
            .base_url(settings.base_url).base_file_url(settings.base_file_url))


def build_application(runtime: Any, builder: ApplicationBuilder | None = None) -> Application:
    """The bot's Application, for polling and for webhook mode alike."""
    builder = builder or application_builder(TelegramSettings.from_runtime(runtime))
    app = (builder.rate_limiter(AIORateLimiter(max_retries=2)).post_init(setup_bot)
           .concurrent_updates(CONCURRENT_UPDATES).build())
    channel = TelegramChannel(runtime)
    channel.install(app)
    app.bot_data[CHANNEL_KEY] = channel
    app.add_error_handler(_log_error)
    return app


CHANNEL_KEY = "gridintake_channel"


async def take_update(app: Application, data: dict) -> bool:
    """Handle one raw update from Telegram; True once it is stored (acknowledge it), False when
    storage failed (do not: Telegram sends it again). An update the library cannot read is
    stored raw as unparseable and counts as stored. Raises when even that cannot be stored."""
    channel: TelegramChannel = app.bot_data[CHANNEL_KEY]
    try:
        update = Update.de_json(data, app.bot)
    except Exception as exc:
        await asyncio.to_thread(channel.keep_unparseable, data, exc)
        return True
    await app.process_update(update)
    if update.update_id in channel.unstored:
        channel.unstored.discard(update.update_id)
        return False
    return True


async def poll_updates(app: Application, poll_interval: float, timeout: int,
                       allowed_updates: list[str] | None = None) -> None:
    """Long-poll forever, at least once: an update is acknowledged only after it is stored.

    PTB's Updater queues each fetched batch and moves the offset at once, so its next getUpdates
    (or the clean-up call on stop) confirms updates that may not be stored yet, and a crash loses
    them. Here the raw batch is fetched (one unreadable update cannot fail the others), each
    update goes through `take_update`, and the next getUpdates confirms only up to the first
    update whose storage failed; that one comes again after a pause. A crash before that gets
    the batch again, and the inbound rows' idempotency key keeps the replay to one row.
    """
    offset: int | None = None  # confirms only stored updates
    failures = 0
    storage = Backoff("telegram polling: storage", log, base_s=0.5, cap_s=30.0)
    while True:
        try:
            raw = await _get_raw_updates(app, offset, timeout, allowed_updates)
        except RetryAfter as error:
            await asyncio.sleep(_retry_seconds(error))
            continue
        except TelegramError as error:  # network trouble, a garbled body, a second poller, 5xx
            failures += 1
            log.warning("getUpdates failed (%s), retrying", error)
            await asyncio.sleep(min(30.0, 0.5 * 2 ** min(failures, 6)))
            continue
        failures = 0
        if raw:
            taken = await asyncio.gather(*(take_update(app, item) for item in raw),
                                         return_exceptions=True)
            unstored = [i for i, result in enumerate(taken) if result is not True]
            if not unstored:
                storage.succeeded()
                offset = raw[-1]["update_id"] + 1
            else:
                first = unstored[0]
                offset = raw[first]["update_id"]
                problem = taken[first]
                if not isinstance(problem, BaseException):
                    problem = ConnectionError("storage unavailable")
                await asyncio.sleep(storage.failed(problem))
                continue
        await asyncio.sleep(poll_interval)


async def _get_raw_updates(app: Application, offset: int | None, timeout: int,
                           allowed_updates: list[str] | None) -> list[dict]:
    """getUpdates as JSON objects, not yet Updates; a body that is not a list of objects with
    an update_id is an error (retried like a network failure)."""
    kwargs: dict[str, Any] = {"offset": offset, "timeout": timeout, "allowed_updates": allowed_updates}
    with warnings.catch_warnings():  # asking for the raw answer is the point here
        warnings.simplefilter("ignore", PTBUserWarning)
        raw = await app.bot.do_api_request(
            "getUpdates", api_kwargs={k: v for k, v in kwargs.items() if v is not None},
            read_timeout=timeout + 10)
    if not isinstance(raw, list) or not all(
            isinstance(item, dict) and isinstance(item.get("update_id"), int) for item in raw):
        raise TelegramError(f"Invalid getUpdates answer: {str(raw)[:100]}")
    return raw


def _retry_seconds(error: RetryAfter) -> float:
    """retry_after is an int, a timedelta from PTB 23 on (reading it warns about that until then)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        wait = error.retry_after
    return wait.total_seconds() if isinstance(wait, timedelta) else float(wait)


async def run_polling(app: Application, poll_interval: float, timeout: int) -> None:
    """`gridintake telegram`: start the Application and poll until cancelled (Ctrl-C, SIGTERM)."""
    async with app:
        if app.post_init is not None:
            await app.post_init(app)
        await app.start()
        try:
            await poll_updates(app, poll_interval, timeout, Update.ALL_TYPES)
        finally:
            await app.stop()


async def _log_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    if context.error is not None and storage_unavailable(context.error):
        log.warning("telegram update not stored: %s", describe(context.error))
        return
    log.error("telegram update failed", exc_info=context.error)

