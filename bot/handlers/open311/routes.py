"""`/open311/v2/`: discovery, services, service definitions, requests (POST with an api_key,
GET), one request, and `servicerequestupdates`; each answers in `.json` or `.xml`.

An api_key is an Open311 client's API token (`gridintake users add NAME --role open311`, then
`gridintake users token NAME`). GETs need none, as in the spec; without one, phone numbers in
the residents' words are masked. Every error is the spec's error list with its HTTP code."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from flask import Blueprint, current_app, request

from bot.handlers.open311 import filing, queries, services
from bot.handlers.open311.params import flatten
from bot.handlers.open311.render import FORMATS, Open311Error, answer, error
from bot.inbox import InProgress
from storage.accounts import open311_client
from storage.db import transaction

bp = Blueprint("open311_server", __name__, url_prefix="/open311/v2")
FMT = "<any(json,xml):fmt>"
MAX_BODY_BYTES = 64 * 1024
SPEC = "http://wiki.open311.org/GeoReport_v2"
CHANGESET = "2026-12-05T00:00:00Z"  # when what we serve last changed


def _runtime():
    return current_app.config["RUNTIME"]


def _fields() -> dict[str, str]:
    if request.method == "GET":
        return request.args.to_dict()
    if (request.content_length or 0) > MAX_BODY_BYTES:
        raise Open311Error(413, f"the request is larger than {MAX_BODY_BYTES} bytes")
    if request.is_json:
        return {**request.args.to_dict(), **flatten(request.get_json(silent=True))}
    return {**request.args.to_dict(), **request.form.to_dict()}


def _client(fields: dict[str, str], required: bool) -> str | None:
    """The Open311 client whose api_key this is; 403 for a wrong key (or none when required)."""
    key = (fields.get("api_key") or "").strip()
    if not key:
        if required:
            raise Open311Error(403, "api_key was not provided")
        return None
    with transaction(_runtime().sessions) as session:
        client = open311_client(session, key)
        if client is None:
            raise Open311Error(403, "api_key is not valid")
        return client.name


def _jurisdiction(fields: dict[str, str]) -> None:
    ours = _runtime().settings.open311_server.jurisdiction
    given = (fields.get("jurisdiction_id") or "").strip()
    if ours and given and given != ours:
        raise Open311Error(404, f"jurisdiction_id {given} was not found")


def open311(view: Callable) -> Callable:
    """Read the fields, check the jurisdiction, answer errors in the spec's format."""
    @wraps(view)
    def wrapper(fmt: str, **kwargs):
        try:
            fields = _fields()
            _jurisdiction(fields)
            return view(fmt, fields, **kwargs)
        except Open311Error as exc:
            return error(fmt, exc)
        except InProgress as exc:
            return error(fmt, Open311Error(409, str(exc)))

    return wrapper


@bp.get(f"/discovery.{FMT}")
@open311
def discovery(fmt: str, fields):
    settings = _runtime().settings
    base = settings.platform.public_url.rstrip("/") + bp.url_prefix
    return answer(fmt, "discovery", {
        "changeset": CHANGESET,
        "contact": settings.open311_server.contact or settings.bot.city,
        "key_service": "gridintake users token NAME (role open311)",
        "endpoints": [{"specification": SPEC, "url": base, "changeset": CHANGESET,
                       "type": "production", "formats": ["text/xml", "application/json"]}],
    })


@bp.get(f"/services.{FMT}")
@open311
def service_list(fmt: str, fields):
    return answer(fmt, "services", services.services(_runtime().tree()))


@bp.get(f"/services/<code>.{FMT}")
@open311
def service_definition(fmt: str, fields, code: str):
    return answer(fmt, "service_definition", services.definition(_runtime().tree(), code))


@bp.post(f"/requests.{FMT}")
@open311
def create_request(fmt: str, fields):
    client = _client(fields, required=True)
    number = filing.file_request(_runtime(), client, fields, request.headers.get("Idempotency-Key"))
    return answer(fmt, "service_requests", [filing.service_request_answer(_runtime(), number)], 201)


@bp.get(f"/requests.{FMT}")
@open311
def list_requests(fmt: str, fields):
    public = _client(fields, required=False) is None
    return answer(fmt, "service_requests", queries.find_requests(_runtime(), fields, public))


@bp.get(f"/requests/<number>.{FMT}")
@open311
def show_request(fmt: str, fields, number: str):
    public = _client(fields, required=False) is None
    return answer(fmt, "service_requests", [queries.one_request(_runtime(), number, public)])


@bp.get(f"/servicerequestupdates.{FMT}")
@open311
def list_updates(fmt: str, fields):
    _client(fields, required=False)
    return answer(fmt, "service_request_updates", queries.find_updates(_runtime(), fields))


@bp.post(f"/servicerequestupdates.{FMT}")
@open311
def create_update(fmt: str, fields):
    client = _client(fields, required=True)
    update_id = queries.post_update(_runtime(), client, fields)
    return answer(fmt, "service_request_updates", [{"update_id": update_id}], 201)


@bp.route("/<path:rest>", methods=["GET", "POST"])
def unknown(rest: str):
    fmt = rest.rsplit(".", 1)[-1] if rest.rsplit(".", 1)[-1] in FORMATS else "xml"
    return error(fmt, Open311Error(404, f"/open311/v2/{rest} is not an Open311 method here"))
