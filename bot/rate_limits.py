"""Per-sender inbound rate limits, shared by every channel (SMS routes, Telegram), and the
outbound pacing of provider APIs across processes and hosts (Redis when configured)."""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable

from limits import RateLimitItem, RateLimitItemPerSecond, parse
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


def in_memory(storage_uri: str) -> bool:
    return (storage_uri or "memory://").startswith("memory://")


def per_process(rate: RateLimitItem, processes: int) -> RateLimitItem:
    """A process's share of a limit kept in memory: each of `processes` counts only the
    messages it handles, so together they allow the configured amount (at least 1 each)."""
    if processes <= 1:
        return rate
    return type(rate)(max(1, rate.amount // processes), rate.multiples, rate.namespace)


def memory_limit_warning(limits: LimitSettings, processes: int) -> str | None:
    """What `gridintake serve` logs at boot when limits are kept per process."""
    if processes <= 1 or not in_memory(limits.storage_uri):
        return None
    share = per_process(parse(limits.per_sender), processes)
    return (f"rate limits are kept in each process's memory ({processes} workers): each allows "
            f"{share.amount} of {limits.per_sender} per sender, and hosts do not share them; set "
            f"GRIDINTAKE_RATE_LIMIT_STORAGE=redis://… for one limit across processes and hosts")


class SenderLimiter:
    """Per-sender limits on the `limits` library that Flask-Limiter is built on (same storage
    URIs: memory:// or redis://), called by hand so only requests that passed the signature
    check count. In memory with several worker processes, each keeps its share of the limit
    (`per_process`).

    With the shared storage unreachable, each process falls back to its own in-process window
    (a sender may then get the limit once per process, never unlimited), logs one warning a
    minute, and tries the storage again every few seconds."""

    WARN_EVERY_S = 60.0
    RETRY_STORAGE_S = 5.0

    def __init__(self, storage_uri: str, rate: str, processes: int = 1) -> None:
        self.rate = parse(rate)
        self.shared: MovingWindowRateLimiter | None = None
        if in_memory(storage_uri):
            self.rate = per_process(self.rate, processes)
        else:
            self.shared = MovingWindowRateLimiter(storage_from_string(storage_uri))
        self.local = MemoryWindow(self.rate)
        self._shared_down_until = 0.0
        self._warned_at = float("-inf")

    @classmethod
    def from_settings(cls, limits: LimitSettings) -> SenderLimiter:
        return cls(limits.storage_uri, limits.per_sender, limits.processes)

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


class SharedPacer:
    """Outbound pacing that every process and host of a city shares, kept in Redis: at most
    `per_second` sends a second for one bot or account, one per `chat_interval` to one chat, and
    after a 429 nobody sends before `retry_after` has passed. The moving windows are the `limits`
    library's (atomic in Redis); `wait` blocks until a send may go, like the in-process pacer."""

    def __init__(self, storage_uri: str, name: str, per_second: int, chat_interval: float,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        import redis  # only with a Redis storage URI

        self.name, self.sleep = name, sleep
        self.strategy = MovingWindowRateLimiter(storage_from_string(storage_uri))
        self.overall = RateLimitItemPerSecond(per_second, namespace="pace")
        self.per_chat = RateLimitItemPerSecond(1, max(1, round(chat_interval)), namespace="pace")
        self.redis = redis.Redis.from_url(storage_uri)
        self.pause_key = f"gridintake:pause:{name}"

    def pause(self, seconds: float) -> None:
        """The provider said 429: hold every process's sends for `seconds`."""
        self.redis.set(self.pause_key, 1, px=max(1, int(seconds * 1000)))

    def _until_free(self, item: RateLimitItem, *key: str) -> float:
        return max(0.005, self.strategy.get_window_stats(item, *key).reset_time - time.time())

    def wait(self, chat: str) -> None:
        while True:
            paused_ms = self.redis.pttl(self.pause_key)
            if paused_ms > 0:
                self.sleep(paused_ms / 1000)
            elif not self.strategy.test(self.per_chat, self.name, chat):
                self.sleep(self._until_free(self.per_chat, self.name, chat))
            elif not self.strategy.hit(self.overall, self.name):
                self.sleep(self._until_free(self.overall, self.name))
            elif self.strategy.hit(self.per_chat, self.name, chat):
                return
            # else: another process took this chat's slot in between; the overall slot goes unused
