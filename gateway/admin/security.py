"""Who is signed in, what they may do, CSRF tokens and the login rate limit."""

from __future__ import annotations

import hmac
import secrets
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
# Failed logins allowed before the form refuses for a while, per address+name and per address.
LOGIN_LIMITS = (("name", parse("5/5 minutes")), ("address", parse("20/15 minutes")))


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
    """The signed-in user, re-read each request so a deleted account loses access at once."""
    g.user = None
    uid = session.get("uid")
    if uid is None:
        return
    with transaction(runtime().sessions) as db:
        user = db.get(User, uid)
        if user is not None and user.role in ROLES:
            g.user = {"id": user.id, "name": user.name, "role": user.role}
    if g.user is None:
        session.pop("uid", None)


def sign_in(user: User) -> None:
    """A fresh session (no fixation) with a new CSRF token."""
    session.clear()
    session.permanent = True
    session["uid"] = user.id
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
    """Counts failed logins in the configured limits storage (memory or Redis, shared by workers)."""

    def __init__(self, storage_uri: str) -> None:
        self.limiter = MovingWindowRateLimiter(storage_from_string(storage_uri))

    def _keys(self, address: str, name: str) -> list[tuple[Any, str]]:
        values = {"name": f"{address}|{name.casefold()}", "address": address}
        return [(limit, values[kind]) for kind, limit in LOGIN_LIMITS]

    def blocked(self, address: str, name: str) -> bool:
        return any(not self.limiter.test(limit, "admin-login", key)
                   for limit, key in self._keys(address, name))

    def failed(self, address: str, name: str) -> None:
        for limit, key in self._keys(address, name):
            self.limiter.hit(limit, "admin-login", key)


def login_limiter() -> LoginLimiter:
    ext = current_app.extensions
    if "admin_login_limiter" not in ext:
        ext["admin_login_limiter"] = LoginLimiter(runtime().settings.limits.storage_uri)
    return ext["admin_login_limiter"]
