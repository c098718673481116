"""The administrators' web UI under ``/admin``: keywords, evaluation, review, dashboard.

Server-rendered pages; charts are inline SVG drawn here, CSS/JS ship in ``gateway/static/admin``
(no CDN: the gateway may run on a closed network).
"""

from __future__ import annotations

from datetime import timedelta

from flask import Blueprint

bp = Blueprint("admin", __name__, url_prefix="/admin",
               static_folder="../static/admin", static_url_path="/static")


@bp.record_once
def _secure_sessions(state) -> None:
    """Session cookies: HttpOnly, SameSite, Secure when the gateway is served over HTTPS."""
    app = state.app
    public_url = app.config["RUNTIME"].settings.server.public_url
    app.config.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=public_url.startswith("https://"),
        # The cookie's own expiry; the server ends sessions sooner (admin.security.load_user).
        PERMANENT_SESSION_LIFETIME=timedelta(
            hours=app.config["RUNTIME"].settings.admin.session_absolute_hours),
    )


# Views register themselves on `bp` when imported.
from gateway.admin import (  # noqa: E402
    auth,  # noqa: F401
    cases,  # noqa: F401
    categories_views,  # noqa: F401
    dashboard,  # noqa: F401
    evaluation_views,  # noqa: F401
    map_views,  # noqa: F401
    models_views,  # noqa: F401
    review_views,  # noqa: F401
    try_text,  # noqa: F401
)
