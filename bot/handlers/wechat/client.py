"""wechatpy's API client with its base URL from `[wechat] api_base` and one access_token for
every process: kept in the database, or in Redis when `[wechat] token_storage` names one, and
refreshed by one process while the others wait for it."""

from __future__ import annotations

from typing import Any, Protocol

import redis
from wechatpy import WeChatClient

from settings.config import ConfigError
from storage import tokens
from storage.tokens import Fetch

# A token is refreshed this long before WeChat's expiry (7200 s), so none dies in flight.
MARGIN_S = 300


class SharedToken(Protocol):
    def current(self) -> str | None: ...

    def refresh(self, fetch: Fetch, stale: str | None) -> str: ...


class DatabaseToken:
    def __init__(self, sessions, name: str) -> None:
        self.sessions, self.name = sessions, name

    def current(self) -> str | None:
        return tokens.current(self.sessions, self.name, MARGIN_S)

    def refresh(self, fetch: Fetch, stale: str | None) -> str:
        return tokens.refresh(self.sessions, self.name, fetch, stale=stale, margin_s=MARGIN_S)


class RedisToken:
    """The token as a Redis key that expires with it; a Redis lock makes the refresh single."""

    def __init__(self, url: str, name: str) -> None:
        self.redis, self.key = redis.Redis.from_url(url), f"gridintake:{name}"

    def current(self) -> str | None:
        value = self.redis.get(self.key)
        return value.decode() if value else None

    def refresh(self, fetch: Fetch, stale: str | None) -> str:
        with self.redis.lock(self.key + ":lock", timeout=60, blocking_timeout=60):
            value = self.current()
            if value and value != stale:
                return value
            value, lifetime_s = fetch()
            self.redis.set(self.key, value, ex=max(int(lifetime_s) - MARGIN_S, 1))
            return value


class CityClient(WeChatClient):
    """The Official Account's API client. wechatpy asks `fetch_access_token` again when WeChat
    calls a token invalid or expired (40001, 40014, 42001); that refresh is shared too."""

    def __init__(self, app_id: str, secret: str, api_base: str, shared: SharedToken,
                 timeout: float = 10.0) -> None:
        super().__init__(app_id, secret, timeout=timeout)
        self.API_BASE_URL = api_base
        self.shared = shared
        self.last_token: str | None = None

    @property
    def access_token(self) -> str:
        self.last_token = self.shared.current() or self.shared.refresh(self._fetch, None)
        return self.last_token

    def fetch_access_token(self) -> dict[str, Any]:
        token = self.shared.refresh(self._fetch, self.last_token)
        self.session.set(self.access_token_key, token)  # wechatpy's retry reads it from here
        self.last_token = token
        return {"access_token": token}

    def _fetch(self) -> tuple[str, int]:
        result = self._fetch_access_token(
            url=self.API_BASE_URL + "token",
            params={"grant_type": "client_credential", "appid": self.appid, "secret": self.secret})
        return result["access_token"], int(result.get("expires_in", 7200))


def make_client(runtime) -> CityClient:
    """The client for the configured account (raises ConfigError naming what is missing)."""
    config, settings = runtime.config, runtime.settings.wechat
    app_id, secret = config.secret("WECHAT_APP_ID"), config.secret("WECHAT_APP_SECRET")
    if not (app_id and secret):
        raise ConfigError("WeChat is not configured: set GRIDINTAKE_WECHAT_APP_ID and "
                          "GRIDINTAKE_WECHAT_APP_SECRET")
    name = f"wechat:{app_id}:access_token"
    shared: SharedToken = (RedisToken(settings.token_storage, name) if settings.token_storage
                           else DatabaseToken(runtime.sessions, name))
    return CityClient(app_id, secret, settings.api_base, shared)

