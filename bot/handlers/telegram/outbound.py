"""Outbound Telegram messages from the outbox (progress, closure, rating request).

The forwarding worker is synchronous, so this talks to the Bot API over plain HTTP (httpx) at
the configured base URL, paced to Telegram's limits (about 30 messages a second in all, one a
second per chat: in this process, or across every process and host when the limits are kept in
Redis) and mapping the Bot API's answers onto the worker's failure kinds.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from bot.rate_limits import SharedPacer, in_memory
from bot.types import Choice
from cases.outbox import PermanentError, RecipientUnreachable, RetryableError

CHANNEL = "telegram"  # also the outbox sink of its rows
DEFAULT_BASE_URL = "https://api.telegram.org/bot"
GLOBAL_PER_SECOND = 30
CHAT_INTERVAL_S = 1.0
MAX_INLINE_WAIT_S = 2.0  # a shorter retry_after is waited out here; a longer one goes back to the queue


def bot_base_url(url: str | None) -> str:
    """Accept a server root or a full `.../bot` prefix; python-telegram-bot appends the token."""
    url = (url or DEFAULT_BASE_URL).rstrip("/")
    return url if url.endswith("/bot") else f"{url}/bot"


def file_base_url(base_url: str) -> str:
    """Where the same server serves files: `<root>/file/bot<token>/<path>`."""
    return bot_base_url(base_url).removesuffix("/bot") + "/file/bot"


def choice_rows(choices: list[Choice]) -> list[list[Choice]]:
    """Short answers (yes/no, ratings) on one row; longer ones (categories) one per row."""
    if sum(len(c.label) for c in choices) <= 20:
        return [list(choices)]
    return [[c] for c in choices]


def inline_keyboard(choices: list[Choice]) -> dict[str, Any]:
    """The Bot API InlineKeyboardMarkup: the callback data is the key the resident would type."""
    return {"inline_keyboard": [[{"text": c.label, "callback_data": c.key} for c in row]
                                for row in choice_rows(choices)]}


class Pacer:
    """Waits before each send so neither the global nor the per-chat rate is exceeded."""

    def __init__(self, per_second: int = GLOBAL_PER_SECOND, chat_interval: float = CHAT_INTERVAL_S,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.per_second = per_second
        self.chat_interval = chat_interval
        self.clock, self.sleep = clock, sleep
        self._sent: deque[float] = deque()
        self._last_by_chat: dict[str, float] = {}
        self._paused_until = 0.0
        self._lock = threading.Lock()

    def pause(self, seconds: float) -> None:
        """Telegram said 429: nothing goes out before retry_after has passed."""
        with self._lock:
            self._paused_until = max(self._paused_until, self.clock() + seconds)

    def wait(self, chat: str) -> None:
        with self._lock:
            while True:
                now = self.clock()
                while self._sent and now - self._sent[0] >= 1.0:
                    self._sent.popleft()
                delay = max(
                    self._paused_until - now,
                    self._last_by_chat.get(chat, -1e9) + self.chat_interval - now,
                    (self._sent[0] + 1.0 - now) if len(self._sent) >= self.per_second else 0.0,
                )
                if delay <= 0:
                    self._sent.append(now)
                    self._last_by_chat[chat] = now
                    return
                self.sleep(delay)


@dataclass
class ApiError(Exception):
    code: int
    description: str
    retry_after: float | None = None

    def __str__(self) -> str:
        return f"{self.code} {self.description}"


class BotApi:
    """A minimal synchronous Bot API client."""

    def __init__(self, token: str, base_url: str | None, http: httpx.Client | None = None,
                 pacer: Pacer | SharedPacer | None = None) -> None:
        self.url = f"{bot_base_url(base_url)}{token}"
        self.http = http or httpx.Client(timeout=10.0)
        self.pacer = pacer or Pacer()

    def call(self, method: str, params: dict[str, Any]) -> Any:
        response = self.http.post(f"{self.url}/{method}", json=params)
        try:
            body = response.json()
        except ValueError:
            raise ApiError(response.status_code, response.text[:200]) from None
        if body.get("ok"):
            return body["result"]
        parameters = body.get("parameters") or {}
        raise ApiError(int(body.get("error_code") or response.status_code),
                       str(body.get("description", "")), parameters.get("retry_after"))

    def send_message(self, chat_id: str, params: dict[str, Any]) -> dict[str, Any]:
        """sendMessage, paced; a short 429 is waited out and the message sent once more."""
        try:
            return self._send(chat_id, params)
        except ApiError as error:
            if error.code != 429 or float(error.retry_after or 1) > MAX_INLINE_WAIT_S:
                raise
        return self._send(chat_id, params)  # the pacer holds it until retry_after has passed

    def _send(self, chat_id: str, params: dict[str, Any]) -> dict[str, Any]:
        self.pacer.wait(chat_id)
        try:
            return self.call("sendMessage", {"chat_id": int(chat_id), **params})
        except ApiError as error:
            if error.code == 429:
                self.pacer.pause(float(error.retry_after or 1))
            raise


def classify_failure(error: ApiError) -> Exception:
    """The worker's failure kind for a Bot API error."""
    description = error.description.lower()
    if error.code == 403 or (error.code == 400 and "chat not found" in description):
        return RecipientUnreachable(error.description)
    if error.code == 429:
        return RetryableError(f"rate limited by Telegram: retry after {error.retry_after} s")
    if error.code == 400:
        return PermanentError(error.description)
    return RetryableError(str(error))  # 401/404 (configuration), 5xx: retrying may help later


_clients: dict[tuple[str, str], BotApi] = {}
_clients_lock = threading.Lock()


def api_for(runtime: Any) -> BotApi:
    """One client (and pacer) per token and server, shared by every send in this process."""
    token = runtime.config.secret("TELEGRAM_TOKEN")
    if not token:
        raise RetryableError("GRIDINTAKE_TELEGRAM_TOKEN is not set")
    base = bot_base_url(runtime.settings.channels.telegram_base_url)
    with _clients_lock:
        if (token, base) not in _clients:
            _clients[token, base] = BotApi(token, base, pacer=pacer_for(runtime, token))
        return _clients[token, base]


def pacer_for(runtime: Any, token: str) -> Pacer | SharedPacer:
    """One pacer per bot: in Redis when the limits are (every worker on every host shares
    Telegram's 30 a second), else in this process."""
    storage = runtime.settings.limits.storage_uri
    if in_memory(storage):
        return Pacer()
    bot = hashlib.sha256(token.encode()).hexdigest()[:16]  # the token itself stays out of Redis
    return SharedPacer(storage, f"telegram:{bot}", GLOBAL_PER_SECOND, CHAT_INTERVAL_S)


def send_outbox(runtime: Any, row: Any) -> dict[str, Any]:
    """Outbox sender for sink `telegram`: row.target is the chat id, row.payload the message."""
    payload = row.payload or {}
    if not row.target or not payload.get("text"):
        raise PermanentError("a telegram outbox row needs a chat id and a text")
    params: dict[str, Any] = {"text": payload["text"]}
    choices = [Choice(c["key"], c["label"]) for c in payload.get("choices") or []]
    if choices:
        params["reply_markup"] = inline_keyboard(choices)
    try:
        message = api_for(runtime).send_message(str(row.target), params)
    except ApiError as error:
        raise classify_failure(error) from None
    except httpx.HTTPError as error:
        raise RetryableError(f"{type(error).__name__}: {error}") from None
    return {"chat_id": message["chat"]["id"], "message_id": message["message_id"]}
