"""`GET /api/v1/cases/<number>`: a case as JSON, for staff and the city platform only.

A caller proves who it is with an operator's or administrator's API token
(`Authorization: Bearer <token>`, `gridintake users token NAME`) or with the platform's
signature (`X-Gridintake-Signature`, GRIDINTAKE_PLATFORM_SECRET) over the bytes
`GET <path>`, e.g. `GET /api/v1/cases/GI-20261204-000003`, inside the 5-minute window.
Anyone else gets the same 401 whether the case exists or not; residents hear about their own
cases on their own channel."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, request
from sqlalchemy import select

from bot.signing import HEADER, SignatureError, verify
from cases.serialize import case_to_json
from storage.accounts import bearer_token, staff_by_token
from storage.db import transaction
from storage.models import Case

bp = Blueprint("case_api", __name__)


def signed_message(path: str) -> bytes:
    """What the platform signs for a GET: the method and the path (no body to sign)."""
    return f"GET {path}".encode()


def caller() -> str | None:
    """Who is asking: the staff member's name, "platform", or None."""
    runtime = current_app.config["RUNTIME"]
    token = bearer_token(request.headers.get("Authorization"))
    if token is not None:
        with transaction(runtime.sessions) as session:
            user = staff_by_token(session, token)
            return user.name if user is not None else None
    secret = runtime.config.secret("PLATFORM_SECRET")
    if secret and request.headers.get(HEADER):
        try:
            verify(secret, request.headers.get(HEADER), signed_message(request.path))
        except SignatureError:
            return None
        return "platform"
    return None


@bp.get("/api/v1/cases/<number>")
def show_case(number: str):
    if caller() is None:
        response = jsonify(error="authentication required: an API token or the platform's signature")
        response.headers["WWW-Authenticate"] = 'Bearer realm="gridintake"'
        return response, 401
    with transaction(current_app.config["RUNTIME"].sessions) as session:
        case = session.scalar(select(Case).where(Case.number == number))
        if case is None:
            return jsonify(error=f"no case {number}"), 404
        runtime = current_app.config["RUNTIME"]
        return jsonify(case_to_json(case, edition=runtime.settings.categories.edition))
