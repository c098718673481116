"""The Flask application factory: the gateway's HTTP face (webhooks, APIs, admin pages)."""

from __future__ import annotations

import importlib
import importlib.util
import os
from pathlib import Path

from flask import Flask, jsonify
from sqlalchemy import select

from cases.serialize import case_to_json
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
    app.config["MAX_CONTENT_LENGTH"] = int(runtime.config.get("bot", "max_photo_bytes")) + 65536
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

    for blueprint in _blueprints():
        app.register_blueprint(blueprint)
    return app


# Each channel and page set owns a module exposing `bp`.
BLUEPRINT_MODULES = (
    "gateway.status_api",
    "gateway.sms_routes",
    "gateway.telegram_webhook",
    "gateway.transcripts",
    "gateway.admin",
    "gateway.media",
)


def _blueprints() -> list:
    return [
        importlib.import_module(name).bp
        for name in BLUEPRINT_MODULES
        if importlib.util.find_spec(name) is not None
    ]
