"""Real Open311 payloads replayed against our server (sources in
tests/fixtures/open311_server/SOURCES.md): the bytes as published first, then with only what
must be ours substituted (api_key, a service_code we offer, a point in the demo city)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import parse_qsl, urlencode

import pytest
import xmltodict
from georeport import GeoReport
from sqlalchemy import select

from storage.db import transaction
from storage.models import Case, CaseEvent, InboundMessage
from tests.conftest import make_runtime
from tests.support.open311_server import open311_server

FIXTURES = Path(__file__).parent / "fixtures" / "open311_server"
FORM = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
OURS = {"service_code": "component-0101", "lat": "35.7470", "long": "114.2970"}


@pytest.fixture
def server(tmp_path):
    runtime = make_runtime(tmp_path / "var")
    with open311_server(runtime) as srv:
        yield srv
    runtime.db.dispose()


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def substituted(raw: bytes, **fields: str) -> bytes:
    pairs = [(k, fields.pop(k) if k in fields else v)
             for k, v in parse_qsl(raw.decode(), keep_blank_values=True)]
    return urlencode(pairs + list(fields.items())).encode()


def test_the_spec_example_request(server):
    raw = fixture("spec_post_request.txt")
    as_published = server.post("requests.xml", content=raw, headers=FORM)
    assert as_published.status_code == 403  # api_key=xyz is not a key of ours
    assert xmltodict.parse(as_published.content)["errors"]["error"]["code"] == "403"
    unknown = server.post("requests.xml", content=substituted(raw, api_key=server.api_key),
                          headers=FORM)
    error = xmltodict.parse(unknown.content)["errors"]["error"]
    assert unknown.status_code == 404 and error["description"] == "service_code 001 was not found"
    resp = server.post("requests.xml", content=substituted(raw, api_key=server.api_key, **OURS),
                       headers=FORM)
    assert resp.status_code == 201
    number = xmltodict.parse(resp.content)["service_requests"]["request"]["service_request_id"]
    got = GeoReport(server.base, jurisdiction="city.gov", output_format="xml").get_service_request(number)
    assert got["description"] == "A large sinkhole is destroying the street"
    assert got["media_url"] == "http://farm3.static.flickr.com/2002/2212426634_5ed477a060.jpg"
    with transaction(server.runtime.sessions) as session:
        stored = session.scalar(select(Case))
        assert stored.label == "component:0101" and stored.grid_code
        assert stored.evidence["open311"]["contact"] == {
            "email": "smit333@sfgov.edu", "first_name": "john", "last_name": "smith",
            "phone": "111111111", "device_id": "tt222111", "account_id": "123456"}
        assert stored.evidence["open311"]["attributes"] == {"WHISPAWN": "123456",
                                                            "WHISDORN": "COISL001"}
        assert stored.reporter.channel_user_id == "fixmystreet:smit333@sfgov.edu"


def test_the_6aika_json_request(server):
    body = json.loads(fixture("6aika_request_post.json"))
    resp = server.post("requests.json", json={**body, "api_key": server.api_key})
    assert resp.status_code == 404 and resp.json()[0]["description"] == "service_code 180 was not found"
    resp = server.post("requests.json", json={**body, **OURS, "lat": 35.747, "long": 114.297,
                                              "api_key": server.api_key})
    assert resp.status_code == 201
    [row] = resp.json()
    with transaction(server.runtime.sessions) as session:
        stored = session.scalar(select(Case).where(Case.number == row["service_request_id"]))
        assert stored.text == "Trash bin is full." and stored.reporter.display_name == "Heikki Helsinkiläinen"
    outside = server.post("requests.json", json={**body, "service_code": OURS["service_code"],
                                                 "api_key": server.api_key})
    assert outside.status_code == 201  # Helsinki is not in the city: filed for staff to place
    assert outside.json()[0]["service_notice"].startswith("地点不在本市网格内")


def test_the_6aika_multipart_fields(server):
    fields = dict(parse_qsl(fixture("6aika_multipart.txt").decode()))
    missing = server.post("requests.json", {**fields, **OURS, "service_code": "171"})
    assert missing.status_code == 404
    resp = server.post("requests.json", {**fields, **OURS})
    assert resp.status_code == 201
    with transaction(server.runtime.sessions) as session:
        row = session.scalar(select(InboundMessage))
        assert row.payload["raw"]["request"]["title"] == "Multipart geometry"  # kept, unused


def test_fixmystreet_posts_an_update_and_reads_the_answer_it_expects(server):
    created = server.post("requests.json", {"description": "九州路口井盖坏了", **OURS})
    number = created.json()[0]["service_request_id"]
    raw = substituted(fixture("fms_post_update.txt"), service_request_id=number,
                      api_key=server.api_key)
    resp = server.post("servicerequestupdates.xml", content=raw, headers=FORM)
    assert resp.status_code == 201
    ours = xmltodict.parse(resp.content)
    theirs = xmltodict.parse(fixture("fms_update_answer.xml"))
    assert ours.keys() == theirs.keys()
    assert ours["service_request_updates"]["request_update"].keys() == \
        theirs["service_request_updates"]["request_update"].keys()
    update_id = ours["service_request_updates"]["request_update"]["update_id"]
    with transaction(server.runtime.sessions) as session:
        comment = session.get(CaseEvent, int(update_id))
        assert comment.note == "this is a comment" and comment.data["client_update_id"] == "38362"


def test_users_add_makes_an_open311_client_without_a_password(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRIDINTAKE_")}
    env["GRIDINTAKE_DATA_DIR"] = str(tmp_path / "var")

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([Path(sys.executable).with_name("gridintake"), *args], env=env,
                              capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)

    assert run("db", "upgrade").returncode == 0
    added = run("users", "add", "city-app", "--role", "open311")
    assert added.returncode == 0, added.stderr
    assert json.loads(added.stdout) == {"user": "city-app", "role": "open311"}
    token = json.loads(run("users", "token", "city-app").stdout)["token"]
    runtime = make_runtime(tmp_path / "var")
    with open311_server(runtime, "other") as srv:
        resp = srv.post("requests.json", {"description": "九州路口井盖坏了", **OURS, "api_key": token},
                        key=False)
        assert resp.status_code == 201
    with transaction(runtime.sessions) as session:
        assert session.scalar(select(InboundMessage)).sender == "city-app"
    runtime.db.dispose()
