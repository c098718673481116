"""Per-sender inbound rate limits, shared by every channel (SMS routes, Telegram)."""

from __future__ import annotations

import logging
import threading
import time
from collections import deque

from limits import RateLimitItem, parse
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

from settings.typed import LimitSettings
from storage.faults import describe

log = logging.getLogger(__name__)


class MemoryWindow:
    """A moving window per key in this process. Stands in for the `limits` memory storage,
    which starts a fresh expiry thread on every hit (about 2.5 ms a message under load)."""

    SWEEP_AT = 10_000  # keys kept before the ones with no hit left in the window are dropped

    def __init__(self, rate: RateLimitItem) -> None:
        self.amount = rate.amount
        self.seconds = rate.get_expiry()
        self.hits: dict[tuple[str, ...], deque[float]] = {}
        self.lock = threading.Lock()

    def hit(self, rate: RateLimitItem, *key: str) -> bool:
        now = time.monotonic()
        start = now - self.seconds
        with self.lock:
            if len(self.hits) >= self.SWEEP_AT:
                self.hits = {k: q for k, q in self.hits.items() if q[-1] > start}
            window = self.hits.setdefault(key, deque())
            while window and window[0] <= start:
                window.popleft()
            if len(window) >= self.amount:
                return False
            window.append(now)
            return True


class SenderLimiter:
    """Per-sender limits on the `limits` library that Flask-Limiter is built on (same storage
    URIs: memory:// or redis://), called by hand so only requests that passed the signature
    check count.

    With the shared storage unreachable, each process falls back to its own in-process window
    (a sender may then get the limit once per process, never unlimited), logs one warning a
    minute, and tries the storage again every few seconds."""

    WARN_EVERY_S = 60.0
    RETRY_STORAGE_S = 5.0

    def __init__(self, storage_uri: str, rate: str) -> None:
        self.rate = parse(rate)
        self.local = MemoryWindow(self.rate)
        self.shared: MovingWindowRateLimiter | None = None
        if not (storage_uri or "memory://").startswith("memory://"):
            self.shared = MovingWindowRateLimiter(storage_from_string(storage_uri))
        self._shared_down_until = 0.0
        self._warned_at = float("-inf")

    @classmethod
    def from_settings(cls, limits: LimitSettings) -> SenderLimiter:
        return cls(limits.storage_uri, limits.per_sender)

    @classmethod
    def for_app(cls, app) -> SenderLimiter:
        limiter = app.extensions.get("gridintake_sender_limiter")
        if limiter is None:
            limiter = cls.from_settings(app.config["RUNTIME"].settings.limits)
            app.extensions["gridintake_sender_limiter"] = limiter
        return limiter

    def allow(self, channel: str, sender: str) -> bool:
        key = ("gridintake", channel, sender)
        now = time.monotonic()
        if self.shared is not None and now >= self._shared_down_until:
            try:
                return self.shared.hit(self.rate, *key)
            except Exception as exc:  # Redis down, refused, timed out: never a lost message
                self._shared_down_until = now + self.RETRY_STORAGE_S
                if now - self._warned_at >= self.WARN_EVERY_S:
                    self._warned_at = now
                    log.warning("rate-limit storage unreachable (%s): in-process limits until it "
                                "is back", describe(exc))
        return self.local.hit(self.rate, *key)
