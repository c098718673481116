"""Hotline transcripts over HTTP: `POST /api/v1/transcripts` (bearer token per operator), a JSON
preview for the operator page, and the page itself at `/operator/transcripts`.

Operators' API tokens are stored as sha256 hex digests in `User.api_token_hash`; the page holds
no secret and asks for the operator's token, which its script sends as a bearer token.
"""

from __future__ import annotations

from functools import wraps

from flask import Blueprint, current_app, g, jsonify, render_template, request
from sqlalchemy import select

from bot.handlers.hotline.handler import InProgress, TranscriptError, file_transcript, preview
from cases import residents
from storage.accounts import bearer_token, staff_by_token
from storage.db import transaction
from storage.models import Reporter

bp = Blueprint("transcripts", __name__)  # the page and its script live in the app's own
# templates/operator/ and static/operator/
MAX_BODY_BYTES = 256 * 1024



def _runtime():
    return current_app.config["RUNTIME"]


def operator_required(view):
    @wraps(view)
    def wrapper(*args, **kwargs):
        token = bearer_token(request.headers.get("Authorization"))
        if token is None:
            return jsonify(error="an operator's bearer token is required"), 401
        with transaction(_runtime().sessions) as session:
            user = staff_by_token(session, token)
            if user is None:
                return jsonify(error="this token is not an operator's"), 403
            g.operator = user.name
        return view(*args, **kwargs)

    return wrapper


def _json_body() -> dict | None:
    if (request.content_length or 0) > MAX_BODY_BYTES:
        return None
    return request.get_json(silent=True)


@bp.post("/api/v1/transcripts")
@operator_required
def create_transcript():
    data = _json_body()
    if data is None:
        return jsonify(error=f"expected a JSON object of at most {MAX_BODY_BYTES} bytes"), 400
    try:
        filed = file_transcript(_runtime(), data, actor=g.operator)
    except TranscriptError as exc:
        return jsonify(error=str(exc)), 400
    except InProgress as exc:
        return jsonify(error=str(exc)), 409
    body = {**filed.case, "result": filed.result, "sms_queued": filed.sms_queued}
    return jsonify(body), 201 if filed.result == "created" else 200


@bp.post("/api/v1/transcripts/preview")
@operator_required
def preview_transcript():
    data = _json_body()
    if not isinstance(data, dict) or not isinstance(data.get("transcript"), str | list):
        return jsonify(error='expected {"transcript": …, "place": optional}'), 400
    place = data.get("place")
    try:
        return jsonify(preview(_runtime(), data["transcript"],
                               place.strip() if isinstance(place, str) and place.strip() else None))
    except TranscriptError as exc:
        return jsonify(error=str(exc)), 400


@bp.post("/api/v1/transcripts/<call_id>/link")
@operator_required
def link_caller(call_id: str):
    """Link a filed call's caller to the resident who texts from the same number: the call came
    from that number, which proves it (cases.residents.operator_link); else 409."""
    with transaction(_runtime().sessions) as session:
        caller = session.scalar(select(Reporter).where(Reporter.channel == "hotline",
                                                       Reporter.channel_user_id == f"call:{call_id}"))
        if caller is None:
            return jsonify(error=f"no filed call {call_id}"), 404
        other = residents.phone_identity(session, caller.phone) if caller.phone else None
        if other is None:
            return jsonify(error="no resident texts from the caller's number"), 409
        try:
            resident = residents.operator_link(session, caller, other)
        except residents.LinkError as exc:
            return jsonify(error=str(exc)), 409
        return jsonify(resident=resident.id, linked=[
            {"channel": r.channel, "id": r.channel_user_id}
            for r in residents.identities(session, caller)], operator=g.operator)


@bp.get("/api/v1/transcripts/categories")
@operator_required
def categories():
    tree = _runtime().tree()
    return jsonify([{"label": c.label, "name": c.name_zh, "name_en": c.name_en,
                     "major": tree.majors.get((c.kind, c.major), "")} for c in tree.enabled()])


@bp.get("/operator/transcripts")
def operator_page():
    return render_template("operator/transcripts.html")
