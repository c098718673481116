"""Pending updates with the Bot API's getUpdates semantics on top of the emulator.

The emulator hands out each update once, ignores `offset` and `timeout`, leaks the
bot token into messages, lacks `chat_instance` on callback queries and may carry
millisecond dates. Here updates stay pending until confirmed by a higher `offset`,
long polling waits up to `timeout`, and every update is repaired on the way in.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from typing import Any

from tests.tgemu.emulator import Emulator

# Update kinds Telegram leaves out unless allowed_updates names them.
OPT_IN_KINDS = frozenset({"chat_member", "message_reaction", "message_reaction_count"})
MESSAGE_KEYS = ("message", "edited_message", "channel_post", "edited_channel_post")
POLL_STEP = 0.05


def to_seconds(value: Any) -> Any:
    """Unix time in seconds; the emulator stamps milliseconds."""
    if isinstance(value, int | float) and value > 10**11:
        return int(value // 1000)
    return value


def fix_message(message: dict) -> dict:
    fixed = {k: v for k, v in message.items() if k not in ("botToken", "chat_id")}
    for key in ("date", "edit_date"):
        if key in fixed:
            fixed[key] = to_seconds(fixed[key])
    if isinstance(fixed.get("reply_to_message"), dict):
        fixed["reply_to_message"] = fix_message(fixed["reply_to_message"])
    return fixed


def chat_instance(chat_id: int) -> str:
    """A stable global identifier for the chat, like Telegram's."""
    return str(int(hashlib.sha256(str(chat_id).encode()).hexdigest()[:15], 16))


def fix_update(update: dict) -> dict:
    fixed = {"update_id": update["update_id"]}
    for key in MESSAGE_KEYS:
        if key in update:
            fixed[key] = fix_message(update[key])
    if "callback_query" in update:
        query = {k: v for k, v in update["callback_query"].items() if v is not None}
        if "message" in query:
            query["message"] = fix_message(query["message"])
            query.setdefault("chat_instance", chat_instance(query["message"]["chat"]["id"]))
        fixed["callback_query"] = query
    return fixed


def update_kind(update: dict) -> str:
    return next(k for k in update if k != "update_id")


class UpdateQueue:
    def __init__(self, emulator: Emulator, on_update: Callable[[dict], None]) -> None:
        self._emulator = emulator
        self._on_update = on_update
        self._pending: list[dict] = []
        self._allowed: frozenset[str] = frozenset()
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._corrupt: list[Callable[[dict], None]] = []

    def corrupt_next(self, change: Callable[[dict], None]) -> None:
        """Apply `change` to the next update that comes in (e.g. drop a required field), so the
        bot gets something its library cannot parse, as Telegram sometimes sends."""
        with self._lock:
            self._corrupt.append(change)

    def close(self) -> None:
        """Release long polls at once (server shutdown)."""
        self._closed.set()

    def pull(self) -> None:
        """Move the emulator's unread updates into the pending queue."""
        response = self._emulator.bot_call("getUpdates")
        response.raise_for_status()
        with self._lock:
            for raw in response.json()["result"]:
                update = fix_update(raw)
                if self._corrupt:
                    self._corrupt.pop(0)(update)
                self._on_update(update)
                if self._is_allowed(update):
                    self._pending.append(update)

    def _is_allowed(self, update: dict) -> bool:
        kind = update_kind(update)
        if self._allowed:
            return kind in self._allowed
        return kind not in OPT_IN_KINDS

    def confirm(self, offset: int) -> None:
        with self._lock:
            if offset < 0:
                self._pending = self._pending[offset:]
            else:
                self._pending = [u for u in self._pending if u["update_id"] >= offset]

    def drop_all(self) -> None:
        self.pull()
        with self._lock:
            self._pending.clear()

    def peek(self, limit: int = 100) -> list[dict]:
        with self._lock:
            return list(self._pending[:limit])

    def get_updates(self, params: dict) -> list[dict]:
        """getUpdates: confirm by offset, long-poll up to timeout, honour limit."""
        if params.get("allowed_updates") is not None:
            self._allowed = frozenset(params["allowed_updates"])
        limit = min(max(int(params.get("limit", 100)), 1), 100)
        deadline = time.monotonic() + max(float(params.get("timeout", 0)), 0.0)
        while True:
            self.pull()
            if params.get("offset") is not None:
                self.confirm(int(params["offset"]))
            batch = self.peek(limit)
            if batch or time.monotonic() >= deadline or self._closed.wait(POLL_STEP):
                return batch
