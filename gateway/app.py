"""The Flask application factory: the gateway's HTTP face (webhooks, APIs, admin pages)."""

from __future__ import annotations

import os
from pathlib import Path

from flask import Flask, jsonify
from sqlalchemy import select

from bot.handlers.hotline import routes as hotline_routes
from bot.handlers.sms import routes as sms_routes
from bot.handlers.telegram import routes as telegram_routes
from cases.serialize import case_to_json
from gateway import admin, media, metrics, status_api
from gateway.runtime import Runtime
from storage.db import transaction
from storage.models import Case


def local_secret(data_dir: Path) -> bytes:
    """Without GRIDINTAKE_SECRET_KEY, a key made once and kept in the data directory: every
    worker process signs sessions and CSRF tokens alike, and logins survive a restart."""
    path = data_dir / "secret_key"
    data_dir.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_bytes()
    with os.fdopen(fd, "wb") as out:
        out.write(os.urandom(32))
    return path.read_bytes()


def create_app(runtime: Runtime | None = None) -> Flask:
    runtime = runtime or Runtime.from_env()
    app = Flask(__name__)
    app.config["RUNTIME"] = runtime
    app.config["MAX_CONTENT_LENGTH"] = runtime.settings.bot.max_photo_bytes + 65536
    app.secret_key = runtime.config.secret("SECRET_KEY") or local_secret(runtime.config.data_dir)

    @app.get("/healthz")
    def health():
        return {"ok": True}

    @app.get("/api/v1/cases/<number>")
    def show_case(number: str):
        with transaction(runtime.sessions) as session:
            case = session.scalar(select(Case).where(Case.number == number))
            if case is None:
                return jsonify(error=f"no case {number}"), 404
            return jsonify(case_to_json(case))

    for blueprint in BLUEPRINTS:
        app.register_blueprint(blueprint)
    app.before_request(metrics.start_timer)
    app.after_request(metrics.observe)
    return app


# Every route the gateway serves: the status API, each channel's webhooks and pages, the admin
# pages, the case photos and /metrics. A blueprint not listed here is not served.
BLUEPRINTS = (status_api.bp, sms_routes.bp, telegram_routes.bp, hotline_routes.bp, admin.bp, media.bp,
              metrics.bp)
