"""Which errors mean "the database cannot be reached right now" (a restart, a refused or dropped
connection, a full pool) rather than a bug: callers answer 503, back off and try again."""

from __future__ import annotations

import logging
import time

from sqlalchemy.exc import DBAPIError, DisconnectionError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from storage.models import utcnow


def storage_unavailable(exc: BaseException) -> bool:
    """True for connection-level failures; constraint violations and bad SQL are not."""
    if isinstance(exc, OperationalError | InterfaceError | DisconnectionError | PoolTimeout):
        return True
    return isinstance(exc, DBAPIError) and bool(exc.connection_invalidated)


class Backoff:
    """A loop's consecutive faults: the first is logged as one line (a traceback only for what is
    not a connection failure), the rest are counted; the waits double from `base` up to `cap`;
    the first success afterwards logs how long it lasted and returns that summary."""

    def __init__(self, what: str, logger: logging.Logger, base_s: float = 1.0, cap_s: float = 30.0) -> None:
        self.what, self.log, self.base_s, self.cap_s = what, logger, base_s, cap_s
        self.failures = 0
        self.since = 0.0
        self.first = ""

    def failed(self, exc: BaseException) -> float:
        """Seconds to wait before trying again."""
        if not self.failures:
            self.since, self.first = time.monotonic(), describe(exc)
            if storage_unavailable(exc) or isinstance(exc, OSError | ConnectionError):
                self.log.warning("%s: %s; retrying with backoff", self.what, self.first)
            else:
                self.log.error("%s: %s; retrying with backoff", self.what, self.first, exc_info=exc)
        self.failures += 1
        return min(self.cap_s, self.base_s * 2 ** (self.failures - 1))

    def succeeded(self) -> str | None:
        if not self.failures:
            return None
        summary = (f"{self.first} for {time.monotonic() - self.since:.0f} s "
                   f"({self.failures} attempts), recovered at {utcnow().isoformat(timespec='seconds')}")
        self.log.warning("%s: recovered after %s", self.what, summary)
        self.failures = 0
        return summary


def describe(exc: BaseException) -> str:
    """One line: the error's class and the first line of its message."""
    first = (str(getattr(exc, "orig", None) or exc).strip().splitlines() or [""])[0]
    return f"{type(exc).__name__}: {first[:200]}"
