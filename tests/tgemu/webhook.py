"""Webhook delivery, as Telegram does it once setWebhook names a URL.

The emulator would push its own unrepaired updates, so delivery happens here: each
pending update is POSTed as JSON with the X-Telegram-Bot-Api-Secret-Token header and
confirmed on a 2xx answer; a failure is kept in getWebhookInfo and retried.
"""

from __future__ import annotations

import threading
import time

import httpx

from tests.tgemu.updates import POLL_STEP, UpdateQueue

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
RETRY_DELAY = 1.0  # Telegram backs off after a failed delivery too


class WebhookPusher:
    def __init__(self, updates: UpdateQueue) -> None:
        self._updates = updates
        self.url = ""
        self.secret_token: str | None = None
        self.deliveries: list[tuple[dict, int]] = []  # (update, HTTP status)
        self._last_error: tuple[int, str] | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, url: str, secret_token: str | None) -> None:
        self.stop()
        self.url, self.secret_token = url, secret_token
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self.url = ""

    def info(self) -> dict:
        """The Bot API WebhookInfo object."""
        info = {
            "url": self.url,
            "has_custom_certificate": False,
            "pending_update_count": len(self._updates.peek()),
        }
        if self.url:
            info["max_connections"] = 40
        if self._last_error:
            info["last_error_date"], info["last_error_message"] = self._last_error
        return info

    def _run(self) -> None:
        headers = {SECRET_HEADER: self.secret_token} if self.secret_token else {}
        with httpx.Client(timeout=5.0) as client:
            while not self._stop.wait(POLL_STEP):
                self._updates.pull()
                for update in self._updates.peek():
                    status = self._post(client, update, headers)
                    self.deliveries.append((update, status))
                    if not 200 <= status < 300:
                        self._last_error = (int(time.time()), f"Wrong response: {status}")
                        self._stop.wait(RETRY_DELAY)
                        break
                    self._updates.confirm(update["update_id"] + 1)

    def _post(self, client: httpx.Client, update: dict, headers: dict) -> int:
        try:
            return client.post(self.url, json=update, headers=headers).status_code
        except httpx.HTTPError:
            return 0
