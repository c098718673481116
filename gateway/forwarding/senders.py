"""Who delivers an outbox row, by sink. Channel helpers (Telegram, SMS) register theirs here.

A sender gets the runtime and the row and returns a small result dict (stored on the row) or None.
It signals failure with one of the exceptions below, so the worker knows what to do next.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging

from cases.outbox import PermanentError, RecipientUnreachable, RetryableError, Sender

log = logging.getLogger(__name__)
__all__ = ["PermanentError", "RecipientUnreachable", "RetryableError", "Sender", "register_sender"]
_SENDERS: dict[str, Sender] = {}

# Modules that register channel senders when imported; those not installed are skipped.
SENDER_MODULES = (
    "bot.handlers.telegram",
    "bot.handlers.sms",
)


def register_sender(sink: str, send: Sender) -> None:
    _SENDERS[sink] = send


def unregister_sender(sink: str) -> None:
    _SENDERS.pop(sink, None)


def sender_for(sink: str) -> Sender | None:
    return _SENDERS.get(sink)


def load_channel_senders() -> None:
    """Import the channel modules so they register; one that fails to import must not stop
    the platform deliveries (its rows wait, retried, until it is fixed)."""
    for name in SENDER_MODULES:
        try:
            if importlib.util.find_spec(name) is not None:
                importlib.import_module(name)
        except Exception:
            log.exception("channel sender module %s failed to import", name)
