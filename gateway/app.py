"""The Flask application factory: the gateway's HTTP face (webhooks, APIs, admin pages)."""

from __future__ import annotations

from flask import Flask, jsonify

from bot.handlers.hotline import routes as hotline_routes
from bot.handlers.sms import routes as sms_routes
from bot.handlers.telegram import routes as telegram_routes
from bot.handlers.wechat import routes as wechat_routes
from gateway import admin, case_api, landing, media, status_api
from gateway.runtime import Runtime
from storage import heartbeats
from storage.db import transaction
from storage.faults import describe, storage_unavailable


def create_app(runtime: Runtime | None = None) -> Flask:
    runtime = runtime or Runtime.from_env()
    app = Flask(__name__)
    app.config["RUNTIME"] = runtime
    app.config["MAX_CONTENT_LENGTH"] = runtime.settings.bot.max_photo_bytes + 65536
    app.secret_key = runtime.secret_key

    @app.get("/healthz")
    def health():
        """200 while the database answers, 503 when it does not; the workers' heartbeats are
        shown but do not fail the check (a gateway without a worker still stores messages)."""
        try:
            with transaction(runtime.sessions) as session:
                workers = heartbeats.status(session)
        except Exception as exc:
            if not storage_unavailable(exc):
                raise
            return jsonify(ok=False, database=describe(exc)), 503
        return jsonify(ok=True, database="ok", workers_alive=workers["alive"],
                       workers=workers["workers"])

    for blueprint in BLUEPRINTS:
        app.register_blueprint(blueprint)
    return app


# Every route the gateway serves: the landing page, the case and status APIs, each channel's
# webhooks and pages, the admin pages and the case photos. A blueprint not listed here is not
# served.
BLUEPRINTS = (landing.bp, case_api.bp, status_api.bp, sms_routes.bp, telegram_routes.bp,
              wechat_routes.bp, hotline_routes.bp, admin.bp, media.bp)
