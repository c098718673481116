"""Run a real python-telegram-bot Application in a background event loop for a test."""

from __future__ import annotations

import asyncio
import threading
from types import TracebackType

from telegram import Update
from telegram.ext import Application, ApplicationBuilder, ContextTypes

from tests.tgemu.compat import BotApiCompat


def application_builder(api: BotApiCompat) -> ApplicationBuilder:
    """An ApplicationBuilder already pointed at the compatibility layer over HTTP."""
    return (
        ApplicationBuilder()
        .token(api.token)
        .base_url(api.base_url)
        .base_file_url(api.base_file_url)
    )


class BotRunner:
    """Polls with the given Application until the `with` block ends.

    Handler exceptions are collected and re-raised on exit, so a broken handler fails
    the test instead of only being logged.
    """

    def __init__(
        self,
        application: Application,
        poll_interval: float = 0.1,
        poll_timeout: float = 0.5,
        start_timeout: float = 10.0,
    ) -> None:
        self.application = application
        self.poll_interval = poll_interval
        self.poll_timeout = poll_timeout  # long-poll length; stopping waits at most this
        self.start_timeout = start_timeout
        self.errors: list[BaseException] = []
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        application.add_error_handler(self._record_error)

    async def _record_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        if context.error is not None:
            self.errors.append(context.error)

    async def _start(self) -> None:
        app = self.application
        await app.initialize()
        await app.start()
        assert app.updater is not None, "the Application was built without an Updater"
        await app.updater.start_polling(
            poll_interval=self.poll_interval,
            timeout=self.poll_timeout,
            allowed_updates=Update.ALL_TYPES,
        )

    async def _stop(self) -> None:
        app = self.application
        if app.updater is not None and app.updater.running:
            await app.updater.stop()
        if app.running:
            await app.stop()
        await app.shutdown()

    def start(self) -> BotRunner:
        self._thread.start()
        future = asyncio.run_coroutine_threadsafe(self._start(), self._loop)
        try:
            future.result(self.start_timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        if not self._thread.is_alive():
            return
        try:
            asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(
                self.start_timeout
            )
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join()
            self._loop.close()

    def __enter__(self) -> BotRunner:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
        if exc is None and self.errors:
            raise self.errors[0]
