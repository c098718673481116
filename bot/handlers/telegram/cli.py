"""`gridintake telegram`: run the Telegram bot by long polling (webhook mode is `gridintake serve`)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from collections.abc import Callable, Coroutine
from typing import Any


def cmd_telegram(args: argparse.Namespace, runtime: Any) -> int:
    # loaded here, so other commands do not pay for python-telegram-bot
    from bot.handlers.telegram.handler import (
        TelegramSettings,
        application_builder,
        build_application,
        run_polling,
    )

    settings = TelegramSettings.from_runtime(runtime, args.base_url, args.base_file_url)
    app = build_application(runtime, application_builder(settings))
    print(f"gridintake telegram polling {settings.base_url.removesuffix('/bot')}", file=sys.stderr,
          flush=True)
    asyncio.run(_until_signalled(run_polling(app, args.poll_interval, args.timeout)))
    return 0


async def _until_signalled(work: Coroutine[Any, Any, None]) -> None:
    """Run until done or SIGINT/SIGTERM, which cancel it so the Application shuts down cleanly."""
    task = asyncio.ensure_future(work)
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, task.cancel)
    with contextlib.suppress(asyncio.CancelledError):
        await task


def register(subparsers, runtime: Callable[[], Any]) -> None:
    """The `telegram` command; ``runtime`` builds the gateway's runtime when the command runs."""
    parser = subparsers.add_parser("telegram", help="run the Telegram bot (long polling)",
                                   description="Run the Telegram bot by long polling.")
    parser.add_argument("--base-url", help="Bot API server, e.g. http://127.0.0.1:8081/bot "
                        "(default: [telegram] base_url, else api.telegram.org)")
    parser.add_argument("--base-file-url", help="where that server serves files "
                        "(default: <root>/file/bot)")
    parser.add_argument("--poll-interval", type=float, default=0.1,
                        help="seconds between polls (a server without long polling answers at once)")
    parser.add_argument("--timeout", type=int, default=10, help="long-poll length in seconds")
    parser.set_defaults(func=lambda args: cmd_telegram(args, runtime()))
