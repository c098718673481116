"""The Flask application factory: the gateway's HTTP face (webhooks, APIs, admin pages)."""

from __future__ import annotations

import logging

from flask import Flask, jsonify
from sqlalchemy.exc import DataError, DBAPIError

from bot.handlers.cnsms import routes as cnsms_routes
from bot.handlers.hotline import routes as hotline_routes
from bot.handlers.open311 import routes as open311_routes
from bot.handlers.sms import routes as sms_routes
from bot.handlers.telegram import routes as telegram_routes
from bot.handlers.wechat import routes as wechat_routes
from gateway import admin, case_api, landing, media, metrics, status_api, web_safety
from gateway.runtime import Runtime
from storage import heartbeats
from storage.db import transaction
from storage.faults import describe, storage_unavailable

log = logging.getLogger(__name__)


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
    app.register_error_handler(RecursionError, _nested_too_deeply)
    app.register_error_handler(DBAPIError, _storage_error)
    app.before_request(metrics.start_timer)
    app.after_request(metrics.observe)
    tiles = runtime.settings.map.tiles
    web_safety.install(app, BODY_LIMITS,
                       https=runtime.settings.platform.public_url.startswith("https://"),
                       images=(web_safety.tile_source(tiles),) if tiles else ())
    return app


def _nested_too_deeply(_exc: RecursionError):
    """A JSON body nested deeper than the parser's recursion: bad input, not a server error."""
    return jsonify(error="the body is nested too deeply"), 400


def _storage_error(exc: DBAPIError):
    """The last line of defence: the database down is 503 (the sender retries); a value the
    database refused (a length or a type the views did not check) is the request's fault."""
    if storage_unavailable(exc):
        return jsonify(error="storage unavailable, try again later"), 503
    if isinstance(exc, DataError):
        log.warning("a value the database refused reached it: %s", describe(exc))
        return jsonify(error="a field is too long or not of its type"), 400
    raise exc


# Every route the gateway serves: the landing page, the case and status APIs, each channel's
# webhooks and pages, the Open311 server, the admin pages, the case photos and /metrics. A
# blueprint not listed here is not served.
BLUEPRINTS = (landing.bp, case_api.bp, status_api.bp, sms_routes.bp, cnsms_routes.bp,
              telegram_routes.bp, wechat_routes.bp, hotline_routes.bp, open311_routes.bp, admin.bp,
              media.bp, metrics.bp)
# The most a request body may carry, by blueprint, chunked or not (413 beyond). Admin uploads
# (category files, evaluation sets) keep the app-wide MAX_CONTENT_LENGTH.
BODY_LIMITS = {
    sms_routes.bp.name: sms_routes.MAX_REQUEST_BYTES,
    cnsms_routes.bp.name: cnsms_routes.MAX_REQUEST_BYTES,
    wechat_routes.bp.name: wechat_routes.MAX_REQUEST_BYTES,
    hotline_routes.bp.name: hotline_routes.MAX_BODY_BYTES,
    open311_routes.bp.name: open311_routes.MAX_BODY_BYTES,
    telegram_routes.bp.name: 256 * 1024,  # an update is JSON; photos come by file id
    status_api.bp.name: 64 * 1024,
    case_api.bp.name: 0,
    media.bp.name: 0,
    landing.bp.name: 0,
    metrics.bp.name: 0,
}
