"""Who is signed in, what they may do, CSRF tokens and the login rate limit."""

from __future__ import annotations

import hmac
import secrets
import time
from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import abort, current_app, g, redirect, request, session, url_for
from limits import parse
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

from gateway.runtime import Runtime
from storage.db import transaction
from storage.models import User

ROLES = ("admin", "operator")


def runtime() -> Runtime:
    return current_app.config["RUNTIME"]


def csrf_token() -> str:
    token = session.get("csrf")
    if not token:
        token = session["csrf"] = secrets.token_urlsafe(32)
    return token


def check_csrf() -> None:
    """Every state-changing request carries the session's token (form field or header)."""
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    sent = request.form.get("csrf_token") or request.headers.get("X-CSRF-Token") or ""
    expected = session.get("csrf") or ""
    if not expected or not hmac.compare_digest(sent, expected):
        abort(400, description="表单已过期或来源不明，请刷新页面后重试 (CSRF check failed)")


def load_user() -> None:
    """The signed-in user, re-read each request: a session ends when its account is deleted or
    disabled, when the user's session epoch moved on (logout, password reset), after
    `session_idle_minutes` without a request and `session_absolute_hours` after sign-in."""
    g.user = None
    uid = session.get("uid")
    if uid is None:
        return
    limits = runtime().settings.admin
    now = time.time()
    fresh = (now - session.get("signed_at", 0) < limits.session_absolute_hours * 3600
             and now - session.get("seen_at", 0) < limits.session_idle_minutes * 60)
    with transaction(runtime().sessions) as db:
        user = db.get(User, uid) if fresh else None
        if (user is not None and user.role in ROLES and user.disabled_at is None
                and user.session_epoch == session.get("epoch")):
            g.user = {"id": user.id, "name": user.name, "role": user.role}
    if g.user is None:
        session.clear()
    else:
        session["seen_at"] = int(now)


def sign_in(user: User) -> None:
    """A fresh session (no fixation) with a new CSRF token, under the user's session epoch."""
    session.clear()
    session.permanent = True
    session.update(uid=user.id, epoch=user.session_epoch, signed_at=int(time.time()),
                   seen_at=int(time.time()))
    csrf_token()


def require(*roles: str) -> Callable:
    """Only signed-in users with one of ``roles`` (admin always qualifies)."""
    allowed = set(roles) | {"admin"}

    def decorate(view: Callable) -> Callable:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any):
            if g.get("user") is None:
                return redirect(url_for("admin.login", next=request.full_path))
            if g.user["role"] not in allowed:
                abort(403, description="您的账号无权访问此页面 (not allowed for your role)")
            return view(*args, **kwargs)
        return wrapper
    return decorate


def actor() -> str:
    return g.user["name"] if g.get("user") else "anonymous"


class LoginLimiter:
    """Failed sign-ins counted in the limits storage (Redis when configured: shared by every
    worker and host). Two counters, each scoped to one account, so failures on one account or
    from one address never lock out a different account: the account from any address
    (distributed guessing), and the account from one address (a single guesser). Behind a proxy
    every client shares an address, which then only ever blocks the account being guessed."""

    def __init__(self, storage_uri: str, per_account: str, per_address: str) -> None:
        self.limiter = MovingWindowRateLimiter(storage_from_string(storage_uri))
        self.limits = (("account", parse(per_account)), ("address", parse(per_address)))

    def _keys(self, address: str, name: str) -> list[tuple[Any, str]]:
        account = name.strip().casefold()
        values = {"account": account, "address": f"{address}|{account}"}
        return [(limit, values[kind]) for kind, limit in self.limits]

    def blocked(self, address: str, name: str) -> bool:
        return any(not self.limiter.test(limit, "admin-login", kind_key)
                   for limit, kind_key in self._keys(address, name))

    def failed(self, address: str, name: str) -> None:
        for limit, key in self._keys(address, name):
            self.limiter.hit(limit, "admin-login", key)


def login_limiter() -> LoginLimiter:
    ext = current_app.extensions
    if "admin_login_limiter" not in ext:
        settings = runtime().settings
        ext["admin_login_limiter"] = LoginLimiter(settings.limits.storage_uri,
                                                  settings.admin.login_limit_per_account,
                                                  settings.admin.login_limit_per_address)
    return ext["admin_login_limiter"]
