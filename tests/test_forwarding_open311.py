"""The Open311 GeoReport v2 sink against a loopback Open311 server, cross-checked with the
independent `georeport` client."""

from __future__ import annotations

from dataclasses import replace

import httpx
import pytest
from georeport import GeoReport
from sqlalchemy import select

from bot.i18n import t
from cases.open311 import service_code
from gateway.forwarding.poll import poll_open311
from gateway.sinks.open311 import Open311Client
from storage.db import transaction
from storage.models import Outbox
from tests.forwarding_fixtures import OPEN311_KEY, build_env, recording_senders


@pytest.fixture
def o311(tmp_path, database_url, receiver):
    env = build_env(tmp_path / "var", database_url, receiver,
                    GRIDINTAKE_WEBHOOK_URL="",
                    GRIDINTAKE_OPEN311_ENDPOINT=receiver.url + "/open311",
                    GRIDINTAKE_FORWARDING_OPEN311_JURISDICTION="hebi.example")
    with recording_senders(env.runtime, env.residents, "telegram"):
        yield env
    env.runtime.db.dispose()


def _client(env, http: httpx.Client) -> Open311Client:
    return Open311Client(env.receiver.url + "/open311", "hebi.example", OPEN311_KEY, http)


def test_case_becomes_a_service_request(o311):
    number = o311.file("九州路口的井盖坏了")
    assert o311.drain()["done"] == 1
    [post] = [s for s in o311.receiver.requests if s.method == "POST"]
    form = post.form
    assert post.path == "/open311/requests.json"
    assert form["service_code"] == service_code("component:0101", "component", "01", "0101")
    assert form["api_key"] == OPEN311_KEY and form["jurisdiction_id"] == "hebi.example"
    assert form["attribute[grid_code]"] == "41061100100101"
    assert form["attribute[minor]"] == "0101" and form["attribute[kind]"] == "component"
    assert form["attribute[case_number]"] == number
    assert float(form["lat"]) == pytest.approx(35.747) and float(form["long"]) == pytest.approx(114.297)
    assert form["description"] == "九州路口的井盖坏了" and form["address_string"] == "九州路口"
    assert not [s for s in o311.receiver.requests if s.path == "/hook"]  # no webhook configured
    request_id = o311.case(number).external_id
    assert request_id.startswith("SR-")
    # The independent client reads back what our client filed.
    stored = GeoReport(o311.receiver.url + "/open311", jurisdiction="hebi.example").get_service_request(
        request_id)
    assert stored["service_code"] == form["service_code"] and stored["status"] == "open"


def test_status_polling_matches_georeport_and_closes_the_case(o311):
    number = o311.file(channel="telegram", sender="tg-311")
    o311.drain()
    request_id = o311.case(number).external_id
    o311.receiver.open311[request_id].update(agency_responsible="市政设施管理处")
    with httpx.Client() as http:
        assert poll_open311(o311.runtime.sessions, _client(o311, http)) == {number: "dispatched"}
        ours = o311.receiver.requests[-1]
        GeoReport(o311.receiver.url + "/open311", jurisdiction="hebi.example").get_service_requests(
            service_request_id=request_id)
        theirs = o311.receiver.requests[-1]
        assert (ours.path, ours.query) == (theirs.path, theirs.query)  # the same GET requests.json
        o311.receiver.open311[request_id].update(status="closed", status_notes="已更换")
        assert poll_open311(o311.runtime.sessions, _client(o311, http)) == {number: "closed"}
        assert poll_open311(o311.runtime.sessions, _client(o311, http)) == {}
    case = o311.case(number)
    assert case.status == "closed"
    assert [(e.status, e.actor) for e in case.events][-2:] == [("dispatched", "open311"),
                                                               ("closed", "open311")]
    assert case.events[-1].note == "已更换"
    o311.drain()
    assert o311.residents.to("tg-311")[-1]["text"] == t(
        "rate_request", "zh", number=number, photo="", note=t("note_words", "zh", note="已更换"))


def test_tokens_are_resolved_to_request_ids(o311):
    o311.receiver.open311_tokens = True
    number = o311.file()
    o311.drain()
    assert o311.case(number).external_id.startswith("token:TK-")
    with httpx.Client() as http:
        poll_open311(o311.runtime.sessions, _client(o311, http))
    assert o311.case(number).external_id.startswith("SR-")


def test_rejected_requests_are_dead_letters(o311, receiver):
    settings = o311.runtime.settings  # a deployment without the key
    o311.runtime.settings = replace(settings, platform=replace(settings.platform, open311_api_key=""))
    o311.file()
    assert o311.drain()["dead"] == 1
    with transaction(o311.runtime.sessions) as session:
        [row] = session.scalars(select(Outbox)).all()
    assert "HTTP 403" in row.last_error
