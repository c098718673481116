"""The test-side Telegram user: writes updates into the emulator, reads the bot's replies."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from tests.tgemu.compat import BotApiCompat, SentMessage

DEFAULT_TIMEOUT = 5.0


class Resident:
    """One private chat between a user and the bot (chat id == user id, as in Telegram)."""

    def __init__(
        self,
        api: BotApiCompat,
        user_id: int,
        first_name: str = "小王",
        username: str | None = None,
        language_code: str | None = "zh-hans",
    ) -> None:
        self.api = api
        self.user: dict[str, Any] = {"id": user_id, "is_bot": False, "first_name": first_name}
        if username:
            self.user["username"] = username
        if language_code:
            self.user["language_code"] = language_code
        self.chat: dict[str, Any] = {"id": user_id, "type": "private", "first_name": first_name}
        if username:
            self.chat["username"] = username
        self._read = 0  # index into api.sent of the next unread reply
        api.register_chat(self.chat)

    @property
    def chat_id(self) -> int:
        return self.chat["id"]

    # -- sending ---------------------------------------------------------------------

    def _send(self, content: dict[str, Any]) -> dict[str, Any]:
        message = {"from": self.user, "chat": self.chat, "date": int(time.time()), **content}
        self.api.emulator.client_call("sendMessage", message)
        return message

    def send_text(self, text: str) -> dict[str, Any]:
        """A text message; a leading /command gets its bot_command entity like in Telegram."""
        content: dict[str, Any] = {"text": text}
        if text.startswith("/"):
            command = text.split(maxsplit=1)[0]
            content["entities"] = [{"type": "bot_command", "offset": 0, "length": len(command)}]
        return self._send(content)

    def send_location(
        self, latitude: float, longitude: float, horizontal_accuracy: float | None = None
    ) -> dict[str, Any]:
        """A location pin (WGS-84), e.g. from a request_location keyboard button."""
        location: dict[str, Any] = {"latitude": latitude, "longitude": longitude}
        if horizontal_accuracy is not None:
            location["horizontal_accuracy"] = horizontal_accuracy
        return self._send({"location": location})

    def send_photo(
        self,
        data: bytes,
        caption: str | None = None,
        width: int | None = None,
        height: int | None = None,
    ) -> dict[str, Any]:
        """A photo: a PhotoSize array (thumbnails first) whose bytes getFile serves."""
        content: dict[str, Any] = {"photo": self.api.files.photo_sizes(data, width, height)}
        if caption:
            content["caption"] = caption
        return self._send(content)

    def press(self, button_text: str, message: SentMessage | None = None) -> str:
        """Press an inline button (by its text) on `message`, default the latest one with it.

        Returns the callback data sent.
        """
        target = message or self._latest_with_button(button_text)
        button = next((b for b in target.inline_buttons if b["text"] == button_text), None)
        if button is None or "callback_data" not in button:
            raise LookupError(f"no callback button {button_text!r} on message {target.message_id}")
        self.api.emulator.client_call(
            "sendCallback",
            {"from": self.user, "message": target.message, "data": button["callback_data"]},
        )
        return button["callback_data"]

    def _latest_with_button(self, button_text: str) -> SentMessage:
        for sent in reversed(self.api.sent):
            if sent.chat_id == self.chat_id and not sent.deleted and any(
                b["text"] == button_text for b in sent.inline_buttons
            ):
                return sent
        raise LookupError(f"no bot message with inline button {button_text!r}")

    def block_bot(self) -> None:
        self.api.block(self.chat_id)

    # -- reading ---------------------------------------------------------------------

    @property
    def replies(self) -> list[SentMessage]:
        """Everything the bot sent to this chat so far."""
        return [s for s in self.api.sent if s.chat_id == self.chat_id]

    def wait_reply(
        self,
        timeout: float = DEFAULT_TIMEOUT,
        predicate: Callable[[SentMessage], bool] = lambda _: True,
    ) -> SentMessage:
        """The next unread bot message to this chat matching predicate; marks it read."""
        index, sent = self.api.wait_sent(
            self._read, timeout, lambda s: s.chat_id == self.chat_id and predicate(s)
        )
        self._read = index + 1
        return sent

    def wait_replies(self, count: int, timeout: float = DEFAULT_TIMEOUT) -> list[SentMessage]:
        deadline = time.monotonic() + timeout
        return [self.wait_reply(max(deadline - time.monotonic(), 0.0)) for _ in range(count)]

    def assert_no_reply(self, within: float = 0.5) -> None:
        """Fails if the bot sends this chat anything unread within `within` seconds."""
        try:
            sent = self.wait_reply(within)
        except TimeoutError:
            return
        raise AssertionError(f"unexpected bot message: {sent.text!r}")

    def wait_callback_answer(self, timeout: float = DEFAULT_TIMEOUT) -> dict:
        """The bot's answerCallbackQuery for this user's latest button press."""
        def latest() -> dict | None:
            answers = [
                a for a in self.api.callback_answers.values()
                if a.get("callback_query_id") in self._my_callback_ids()
            ]
            return answers[-1] if answers else None

        return self.api.wait_for(latest, timeout)

    def _my_callback_ids(self) -> set[str]:
        return {
            str(u["callback_query"]["id"])
            for u in self.api.seen_updates
            if "callback_query" in u and u["callback_query"]["from"]["id"] == self.user["id"]
        }

    def file_bytes(self, file_id: str) -> bytes:
        """Bytes behind a file_id, e.g. of a photo the bot sent."""
        stored = self.api.files.get(file_id)
        if stored is None:
            raise LookupError(file_id)
        return stored.data
