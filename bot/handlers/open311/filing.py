"""POST requests: an Open311 client's report, stored raw first (inbox, channel `open311`), then
filed through the one-shot intake every channel shares (classification when no service_code,
geocoding of address_string, grid, duplicates). The row keeps the case number, so a client that
sends the same `Idempotency-Key` again gets the same request back."""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from bot.handlers.open311 import params as p
from bot.handlers.open311.render import Open311Error
from bot.handlers.open311.services import CONSENT, label_of
from bot.handlers.sms.rules import e164
from bot.inbox import claim_for_filing, hold
from bot.oneshot import file_report
from bot.types import Inbound
from storage.db import transaction
from storage.models import Case, InboundMessage, Reporter, utcnow
from storage.states import CaseStatus, InboundStatus

CHANNEL = "open311"
CONTACT_FIELDS = {"email": 254, "first_name": 60, "last_name": 60, "phone": 40,
                  "device_id": 120, "account_id": 120}
MAX_ATTRIBUTES = 30
ATTRIBUTE = re.compile(r"^attribute\[([^\]]{1,60})\]$")
NOTICE_OUTSIDE = ("地点不在本市网格内，由工作人员核实 "
                  "The place is outside the city's grid: staff will check it")


@dataclass(frozen=True)
class NewRequest:
    text: str
    label: str | None = None
    service_code: str | None = None
    lat: float | None = None
    lon: float | None = None
    address: str | None = None
    media_url: str | None = None
    contact: dict[str, str] = field(default_factory=dict)
    consent: bool = False
    attributes: dict[str, str] = field(default_factory=dict)

    @property
    def phone(self) -> str | None:
        raw = self.contact.get("phone")
        return (e164(raw) or raw) if raw else None

    def reporter_key(self, client: str) -> str:
        """The same person through the same client is one reporter: by email, phone or account;
        an anonymous request is a reporter of its own."""
        who = next((self.contact[k] for k in ("email", "phone", "account_id", "device_id")
                    if self.contact.get(k)), None)
        return f"{client}:{who or uuid.uuid4().hex}"


def parse(tree, fields: Mapping[str, str], max_chars: int) -> NewRequest:
    code = p.text(fields, "service_code", 80)
    label = label_of(tree, code) if code else None
    lat, lon = p.number(fields, "lat", -90, 90), p.number(fields, "long", -180, 180)
    if (lat is None) != (lon is None):
        raise Open311Error(400, "lat and long go together")
    address = p.text(fields, "address_string", 200)
    if lat is None and address is None:
        raise Open311Error(400, "a location is required: lat and long, or address_string")
    description = p.text(fields, "description", max_chars)
    if description is None and label is None:
        raise Open311Error(400, "description is required when service_code is not given")
    media_url = p.text(fields, "media_url", 2000)
    if media_url and not re.match(r"^https?://[^\s]+$", media_url):
        raise Open311Error(400, "media_url must be an http(s) URL")
    contact = {name: value for name, limit in CONTACT_FIELDS.items()
               if (value := p.text(fields, name, limit))}
    attributes = {m.group(1): v.strip()[:500] for k, v in fields.items()
                  if (m := ATTRIBUTE.match(k))}
    if len(attributes) > MAX_ATTRIBUTES:
        raise Open311Error(400, f"at most {MAX_ATTRIBUTES} attributes")
    consent = p.flag(attributes.pop(CONSENT, None), "attribute[consent]")
    text = description or tree.get(label).name_zh
    return NewRequest(text=text, label=label, service_code=code, lat=lat, lon=lon,
                      address=address, media_url=media_url, contact=contact, consent=consent,
                      attributes=attributes)


def _point(runtime, request: NewRequest) -> tuple[float | None, float | None]:
    """The client's point, else its address_string geocoded to a place in the city."""
    if request.lat is not None:
        return request.lat, request.lon
    located = runtime.geo.geocode(request.address)
    if located is None or located.cell is None:
        return None, None
    return located.lat, located.lon


def notice(case: Case) -> str | None:
    return NOTICE_OUTSIDE if case.status == CaseStatus.NEEDS_LOCATION else None


def file_request(runtime, client: str, fields: Mapping[str, str], key: str | None) -> str:
    """File one service request (or find the one this key filed); the case number."""
    request = parse(runtime.tree(), fields, runtime.settings.bot.max_text_chars)
    raw = {k: v for k, v in fields.items() if k != "api_key"}
    inbound = Inbound(channel=CHANNEL, sender=client, key=key or uuid.uuid4().hex,
                      text=request.text, phone=request.phone,
                      payload={"request": raw, "client": client})
    recorded = runtime.engine.inbox.record(inbound)
    answer = claim_for_filing(runtime.sessions, recorded.id)
    if answer is not None:
        return answer["case_number"]
    try:
        lat, lon = _point(runtime, request)
        number = file_report(runtime, text=request.text, lat=lat, lon=lon, channel=CHANNEL,
                             phone=request.phone, sender=request.reporter_key(client),
                             label=request.label)["number"]
        _finish(runtime, recorded.id, client, request, number)
    except Exception as exc:
        hold(runtime.sessions, recorded.id, exc)
        if isinstance(exc, ValueError):
            raise Open311Error(400, str(exc)) from None
        raise
    return number


def _finish(runtime, row_id: int, client: str, request: NewRequest, number: str) -> None:
    """The client's facts on the case and its reporter (consent included), the row's outcome."""
    with transaction(runtime.sessions) as session:
        case = session.scalar(select(Case).where(Case.number == number))
        reporter = session.get(Reporter, case.reporter_id)
        reporter.consent_contact = request.consent
        name = " ".join(filter(None, (request.contact.get("first_name"),
                                      request.contact.get("last_name"))))
        reporter.display_name = name or reporter.display_name
        case.evidence = {**(case.evidence or {}), "open311": {
            "client": client, "service_code": request.service_code,
            "media_url": request.media_url, "contact": request.contact,
            "attributes": request.attributes}}
        if request.address and request.lat is None:
            case.place_text = request.address
        row = session.get(InboundMessage, row_id)
        row.status, row.reporter_id, row.processed_at = InboundStatus.PROCESSED, reporter.id, utcnow()
        row.replies = [{"text": number, "choices": [], "request_location": False,
                        "case_number": number}]


def service_request_answer(runtime, number: str) -> dict[str, Any]:
    with transaction(runtime.sessions) as session:
        case = session.scalar(select(Case).where(Case.number == number))
        return {"service_request_id": number, "service_notice": notice(case), "account_id": None}
