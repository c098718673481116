"""Sign in and out; request hooks (user, CSRF) and error pages for the whole admin UI."""

from __future__ import annotations

from flask import flash, g, redirect, render_template, request, session, url_for
from werkzeug.exceptions import HTTPException

from gateway.admin import bp
from gateway.admin.audit import record
from gateway.admin.security import (
    check_csrf,
    csrf_token,
    load_user,
    login_limiter,
    runtime,
    sign_in,
)
from gateway.admin.users import authenticate, end_sessions
from storage.db import transaction


@bp.before_request
def _hooks() -> None:
    load_user()
    check_csrf()


@bp.context_processor
def _template_globals() -> dict:
    return {"csrf_token": csrf_token, "user": g.get("user")}


@bp.errorhandler(HTTPException)
def _error(exc: HTTPException):
    return render_template("admin/error.html", error=exc), exc.code


def _safe_next(target: str | None) -> str:
    """Only a path inside /admin, never another site."""
    if target and target.startswith("/admin") and not target.startswith("//"):
        return target
    return url_for("admin.index")


@bp.route("/login", methods=["GET", "POST"])
def login():
    if request.method == "GET":
        return render_template("admin/login.html", next=request.args.get("next", ""))
    name = request.form.get("name", "").strip()
    password = request.form.get("password", "")
    address = request.remote_addr or "?"
    limiter = login_limiter()
    if limiter.blocked(address, name):
        flash("登录失败次数过多，请稍后再试 (too many failed logins, try again later)", "error")
        return render_template("admin/login.html", next=request.form.get("next", "")), 429
    with transaction(runtime().sessions) as db:
        user = authenticate(db, name, password)
        if user is not None:
            sign_in(user)
            record(db, user.name, "login", user.name)
    if user is None:
        limiter.failed(address, name)
        flash("用户名或密码不正确 (wrong name or password)", "error")
        return render_template("admin/login.html", next=request.form.get("next", "")), 401
    return redirect(_safe_next(request.form.get("next")))


@bp.post("/logout")
def logout():
    """Ends every session of this user, not only this browser's (a copied cookie dies too)."""
    if g.get("user") is not None:
        with transaction(runtime().sessions) as db:
            end_sessions(db, g.user["name"], g.user["name"], "logout")
    session.clear()
    flash("已退出登录 (signed out)", "info")
    return redirect(url_for("admin.login"))


@bp.get("/")
def index():
    if g.get("user") is None:
        return redirect(url_for("admin.login"))
    if g.user["role"] == "admin":
        return redirect(url_for("admin.dashboard"))
    return redirect(url_for("admin.cases"))
