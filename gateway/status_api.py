"""Status coming back from the city platform: `POST /api/v1/cases/<number>/events`, signed like
our webhooks (GRIDINTAKE_PLATFORM_SECRET, 5-minute replay window). Any refusal changes nothing.

An event is bound to its case and idempotent: the body names the case (`"case"`, equal to the
path's number, so a request signed for one case cannot change another) and carries the
platform's own `"event_id"`; the same event_id again gets the first answer, without a second
event or notice to the resident.
"""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request
from sqlalchemy import select

from bot.signing import HEADER, SignatureError, verify
from cases.duplicates import unlink
from cases.serialize import case_to_json, event_to_json
from cases.status import BadEvent, IllegalTransition, apply_status
from storage.db import transaction
from storage.models import Case, PlatformEvent

bp = Blueprint("status_api", __name__)
MAX_FIELD_CHARS = 2000
MAX_EVENT_ID_CHARS = 120


class Refused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _check_signature(body: bytes) -> None:
    secret = current_app.config["RUNTIME"].config.secret("PLATFORM_SECRET")
    if not secret:
        raise Refused(503, "status API disabled: set GRIDINTAKE_PLATFORM_SECRET")
    header = request.headers.get(HEADER)
    if not header:
        raise Refused(401, f"missing {HEADER} header")
    try:
        verify(secret, header, body)
    except SignatureError as exc:
        raise Refused(403, str(exc)) from None


def _event_fields(body: bytes, number: str) -> dict[str, Any]:
    try:
        data = json.loads(body or b"null")
    except (ValueError, RecursionError):
        raise Refused(400, "body is not JSON") from None
    if not isinstance(data, dict) or "status" not in data:
        raise Refused(400, 'expected a JSON object with "status"')
    if not isinstance(data.get("case"), str):
        raise Refused(400, 'missing "case": the case number the event is for, as in the path')
    if data["case"] != number:
        raise Refused(400, f'"case" is {data["case"][:40]!r} but the path is for {number}')
    event_id = data.get("event_id")
    if not isinstance(event_id, str) or not 0 < len(event_id) <= MAX_EVENT_ID_CHARS:
        raise Refused(400, f'missing "event_id": the platform\'s own id for this event, a string '
                           f'of 1 to {MAX_EVENT_ID_CHARS} characters')
    if not isinstance(data["status"], str):
        raise Refused(400, '"status" must be a string')
    unknown = set(data) - {"case", "event_id", "status", "note", "department", "photo_url"}
    if unknown:
        raise Refused(400, f"unknown field(s): {', '.join(sorted(unknown))}")
    for key in ("note", "department", "photo_url"):
        value = data.get(key)
        if value is not None and (not isinstance(value, str) or len(value) > MAX_FIELD_CHARS):
            raise Refused(400, f"{key} must be a string of at most {MAX_FIELD_CHARS} characters")
    return data


def _refusal(exc: Refused) -> tuple[Response, int]:
    return jsonify(error=str(exc)), exc.status


@bp.post("/api/v1/cases/<number>/events")
def case_event(number: str):
    body = request.get_data()
    try:
        _check_signature(body)
        fields = _event_fields(body, number)
        with transaction(current_app.config["RUNTIME"].sessions) as session:
            case = session.scalar(select(Case).where(Case.number == number).with_for_update())
            if case is None:
                raise Refused(404, f"no case {number}")
            seen = session.get(PlatformEvent, fields["event_id"])
            if seen is not None:  # sent again (a retry): the first answer, nothing changes
                if seen.case_id != case.id:
                    raise Refused(409, f"event_id {fields['event_id']!r} was used for another case")
                return jsonify(seen.answer)
            try:
                event = apply_status(session, case, fields["status"], note=fields.get("note"),
                                     department=fields.get("department"),
                                     photo_url=fields.get("photo_url"), actor="platform")
            except BadEvent as exc:
                raise Refused(400, str(exc)) from None
            except IllegalTransition as exc:
                raise Refused(409, str(exc)) from None
            answer = {"number": case.number, "status": case.status, "event": event_to_json(event)}
            session.add(PlatformEvent(event_id=fields["event_id"], case_id=case.id, answer=answer))
            return jsonify(answer)
    except Refused as exc:
        return _refusal(exc)


@bp.post("/api/v1/cases/<number>/unlink")
def case_unlink(number: str):
    """Undo a wrong duplicate link (the platform's or an administrator's decision)."""
    body = request.get_data()
    try:
        _check_signature(body)
        with transaction(current_app.config["RUNTIME"].sessions) as session:
            case = session.scalar(select(Case).where(Case.number == number).with_for_update())
            if case is None:
                raise Refused(404, f"no case {number}")
            try:
                unlink(session, case, actor="platform")
            except ValueError as exc:
                raise Refused(409, str(exc)) from None
            return jsonify(case_to_json(case))
    except Refused as exc:
        return _refusal(exc)
