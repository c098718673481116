"""The local services the suite talks to: checks that skip with the reason when one is down."""

from __future__ import annotations

from tests.support.dependencies import missing

REDIS_URL = "redis://127.0.0.1:6379/0"


def require_redis(url: str = REDIS_URL) -> None:
    import redis

    try:
        redis.Redis.from_url(url).ping()
    except redis.RedisError as exc:
        missing("Redis at 127.0.0.1:6379", exc)
