"""`run_polling` (what `gridintake telegram` runs) in a thread of its own, stopped on exit."""

from __future__ import annotations

import asyncio
import contextlib
import threading

from telegram.ext import Application

from bot.handlers.telegram.handler import run_polling


class Polling:
    def __init__(self, app: Application) -> None:
        self.loop = asyncio.new_event_loop()
        self.task = self.loop.create_task(run_polling(app, poll_interval=0.05, timeout=0))
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with contextlib.suppress(asyncio.CancelledError):
            self.loop.run_until_complete(self.task)
        self.loop.close()

    def __enter__(self) -> Polling:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.loop.call_soon_threadsafe(self.task.cancel)
        self.thread.join(10)
        assert not self.thread.is_alive()
