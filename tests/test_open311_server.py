"""Our Open311 GeoReport v2 server over real HTTP, read with the independent `georeport`
client (JSON and XML) and written to with plain form posts, as 311 apps do."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import xmltodict
from georeport import GeoReport
from sqlalchemy import select

from cases.document import case_document
from cases.status import apply_status
from storage.db import transaction
from storage.models import Case, CaseEvent, InboundMessage, Reporter
from tests.conftest import make_runtime
from tests.support.open311_server import open311_server
from tests.support.users import add_user

POINT = {"lat": "35.7470", "long": "114.2970"}  # 九州路口 in the demo city
MANHOLE = "component-0101"


@pytest.fixture
def server(tmp_path, database_url):
    runtime = make_runtime(tmp_path / "var", database_url)
    with open311_server(runtime) as srv:
        yield srv
    runtime.db.dispose()


def case(runtime, number: str) -> Case:
    with transaction(runtime.sessions) as session:
        found = session.scalar(select(Case).where(Case.number == number))
        session.expunge(found)
        return found


def filed(server, **fields) -> str:
    resp = server.post("requests.json", fields)
    assert resp.status_code == 201, resp.text
    [row] = resp.json()
    return row["service_request_id"]


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_services_one_per_class_with_group_and_keywords(server, fmt):
    client = GeoReport(server.base, output_format=fmt)
    tree = server.runtime.tree()
    listed = client.get_service_list()
    assert len(listed) == len(tree.enabled())
    manhole = next(s for s in listed if s["service_code"] == MANHOLE)
    assert manhole["service_name"] == "上水井盖" and manhole["group"] == "公用设施"
    assert manhole["type"] == "realtime" and str(manhole["metadata"]).lower() == "true"
    assert any(k.text in manhole["keywords"] for k in tree.get("component:0101").keywords())
    definition = client.get_service_definition(MANHOLE)
    attributes = definition["attributes"]
    attribute = attributes[0] if isinstance(attributes, list) else attributes["attribute"]
    assert definition["service_code"] == MANHOLE and attribute["code"] == "consent"


def test_discovery_names_the_spec_and_both_formats(server):
    body = server.http.get(f"{server.base}/discovery.json").json()
    [endpoint] = body["endpoints"]
    assert endpoint["specification"] == "http://wiki.open311.org/GeoReport_v2"
    assert set(endpoint["formats"]) == {"text/xml", "application/json"}
    xml = server.http.get(f"{server.base}/discovery.xml")
    assert xml.headers["content-type"].startswith("text/xml")
    assert xmltodict.parse(xml.content)["discovery"]["endpoints"]["endpoint"]["formats"]["format"]


def test_post_files_a_case_through_the_intake_and_georeport_reads_it(server):
    number = filed(server, service_code=MANHOLE, description="井盖松动了，车一压就响",
                   email="li@example.cn", first_name="李", last_name="雷", phone="13800001234",
                   media_url="https://example.org/p/1.jpg", **POINT)
    stored = case(server.runtime, number)
    assert stored.channel == "open311" and stored.label == "component:0101"
    assert stored.grid_code and stored.grid_code.startswith("410611")
    with transaction(server.runtime.sessions) as session:
        row = session.scalar(select(InboundMessage))
        assert row.channel == "open311" and row.status == "processed" and row.sender == "fixmystreet"
        assert "api_key" not in row.payload["raw"]["request"]  # the key is never stored
        assert row.payload["raw"]["request"]["email"] == "li@example.cn"
        reporter = session.get(Reporter, stored.reporter_id)
        assert reporter.display_name == "李 雷" and reporter.phone == "+8613800001234"
        assert reporter.consent_contact is False  # no attribute[consent]: nothing forwarded
        document = case_document(session.scalar(select(Case)), server.runtime.tree())
        assert document["reporter"]["phone"] != "+8613800001234" and document["reporter"]["name"] is None
    for fmt in ("json", "xml"):
        got = GeoReport(server.base, output_format=fmt).get_service_request(number)
        assert got["service_request_id"] == number and got["status"] == "open"
        assert got["service_code"] == MANHOLE and got["media_url"] == "https://example.org/p/1.jpg"
        assert float(got["lat"]) == pytest.approx(35.747) and got["address_id"] == stored.grid_code
        assert got["requested_datetime"].endswith("Z")
    got = GeoReport(server.base).get_service_request(number)
    limit = server.runtime.tree().get("component:0101").time_limit_hours
    assert (got["expected_datetime"] is not None) == bool(limit)


def test_without_service_code_the_text_is_classified_and_the_address_geocoded(server):
    number = filed(server, description="九州路口的井盖坏了", address_string="九州路口")
    stored = case(server.runtime, number)
    assert stored.label.startswith("component:01") and stored.grid_code
    assert stored.place_text == "九州路口" and stored.lat is not None


def test_a_repeat_report_is_linked_as_a_duplicate(server):
    first = filed(server, description="九州路口的井盖坏了", email="a@example.cn", **POINT)
    second = filed(server, description="九州路口井盖坏了", email="b@example.cn", **POINT)
    assert case(server.runtime, second).duplicate_of_id == case(server.runtime, first).id


def test_consent_attribute_lets_contact_details_reach_the_platform(server):
    number = filed(server, description="路灯不亮", phone="13800001234", first_name="王",
                   **{"attribute[consent]": "true"}, **POINT)
    with transaction(server.runtime.sessions) as session:
        stored = session.scalar(select(Case).where(Case.number == number))
        assert stored.reporter.consent_contact is True
        reporter = case_document(stored, server.runtime.tree())["reporter"]
        assert reporter["phone"] == "+8613800001234" and reporter["name"] == "王"


def test_idempotency_key_answers_the_same_request(server):
    headers = {"Idempotency-Key": "app-42"}
    form = {"description": "九州路口的井盖坏了", **POINT, "api_key": server.api_key}
    one = server.http.post(f"{server.base}/requests.json", data=form, headers=headers).json()
    two = server.http.post(f"{server.base}/requests.json", data=form, headers=headers).json()
    assert one == two
    with transaction(server.runtime.sessions) as session:
        assert len(session.scalars(select(Case)).all()) == 1


def test_get_requests_filters(server):
    runtime = server.runtime
    manhole = filed(server, service_code=MANHOLE, description="井盖坏了", **POINT)
    light = filed(server, description="路灯不亮了", address_string="九州路口")
    with transaction(runtime.sessions) as session:
        stored = session.scalar(select(Case).where(Case.number == light))
        apply_status(session, stored, "dispatched", department="路灯管理所")
        apply_status(session, stored, "closed", note="已修复")
    client = GeoReport(server.base)
    assert {r["service_request_id"] for r in client.get_service_requests()} == {manhole, light}
    assert [r["service_request_id"] for r in client.get_service_requests(status="closed")] == [light]
    assert [r["service_request_id"] for r in client.get_service_requests(status="open")] == [manhole]
    assert [r["service_request_id"] for r in client.get_service_requests(service_code=MANHOLE)] == [manhole]
    both = client.get_service_requests(service_request_id=f"{manhole},{light}")
    assert {r["service_request_id"] for r in both} == {manhole, light}
    closed = next(r for r in both if r["service_request_id"] == light)
    assert closed["status_notes"] == "已修复" and closed["agency_responsible"] == "路灯管理所"
    future = (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert client.get_service_requests(start_date=future) == []
    past = (datetime.now(UTC) - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert len(client.get_service_requests(start_date=past, end_date=future)) == 2


def test_public_reads_mask_phone_numbers_a_keyed_client_sees_them(server):
    number = filed(server, description="九州路口井盖坏了，联系我13800001234", **POINT)
    public = server.http.get(f"{server.base}/requests/{number}.json").json()[0]
    assert "13800001234" not in public["description"] and "138****1234" in public["description"]
    keyed = server.http.get(f"{server.base}/requests/{number}.json",
                            params={"api_key": server.api_key}).json()[0]
    assert "13800001234" in keyed["description"]


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_errors_in_the_spec_format(server, fmt):
    def error(resp):
        if fmt == "json":
            [err] = resp.json()
        else:
            err = xmltodict.parse(resp.content)["errors"]["error"]
        assert int(err["code"]) == resp.status_code
        return resp.status_code, err["description"]

    path = f"requests.{fmt}"
    assert error(server.post(path, {"description": "x", **POINT}, key=False))[0] == 403
    assert error(server.post(path, {"description": "x", **POINT, "api_key": "nope"}, key=False))[0] == 403
    code, text = error(server.post(path, {"service_code": "999", "description": "x", **POINT}))
    assert code == 404 and "999" in text
    code, text = error(server.post(path, {"description": "井盖坏了"}))
    assert code == 400 and "location" in text
    assert error(server.post(path, {"description": "x", "lat": "95", "long": "114"}))[0] == 400
    assert error(server.http.get(f"{server.base}/requests/GI-19990101-000001.{fmt}"))[0] == 404
    assert error(server.http.get(f"{server.base}/services/nope.{fmt}"))[0] == 404
    assert error(server.http.get(f"{server.base}/requests.{fmt}",
                                 params={"start_date": "2026-01-01T00:00:00Z",
                                         "end_date": "2026-06-01T00:00:00Z"}))[0] == 400
    assert error(server.http.get(f"{server.base}/requests.{fmt}",
                                 params={"start_date": "yesterday"}))[0] == 400
    assert error(server.http.get(f"{server.base}/tokens/abc.{fmt}"))[0] == 404


def test_only_our_jurisdiction_is_served(tmp_path):
    runtime = make_runtime(tmp_path / "var", GRIDINTAKE_GEOREPORT_JURISDICTION="hebi.example")
    with open311_server(runtime) as srv:
        assert srv.http.get(f"{srv.base}/services.json",
                            params={"jurisdiction_id": "hebi.example"}).status_code == 200
        wrong = srv.http.get(f"{srv.base}/services.json", params={"jurisdiction_id": "sfgov.org"})
        assert wrong.status_code == 404 and "sfgov.org" in wrong.json()[0]["description"]
    runtime.db.dispose()


def test_staff_tokens_are_not_api_keys_and_client_keys_are_not_staff(server):
    operator = add_user(server.runtime, "wang", "operator")
    resp = server.post("requests.json", {"description": "x", **POINT, "api_key": operator}, key=False)
    assert resp.status_code == 403
    number = filed(server, description="九州路口井盖坏了", **POINT)
    staff_api = server.base.replace("/open311/v2", f"/api/v1/cases/{number}")
    assert server.http.get(staff_api, headers={"Authorization": f"Bearer {server.api_key}"}
                           ).status_code == 401


def test_service_request_updates_follow_the_case(server):
    number = filed(server, service_code=MANHOLE, description="井盖坏了", **POINT)
    with transaction(server.runtime.sessions) as session:
        stored = session.scalar(select(Case).where(Case.number == number))
        apply_status(session, stored, "dispatched", department="市政设施管理处")
        apply_status(session, stored, "handled", note="已更换井盖", photo_url="https://x.example/a.jpg")
    got = server.http.get(f"{server.base}/servicerequestupdates.xml")
    updates = xmltodict.parse(got.content)["service_request_updates"]["request_update"]
    assert [(u["service_request_id"], u["status"], u["external_status_code"]) for u in updates] == [
        (number, "OPEN", "accepted"), (number, "ACTION_SCHEDULED", "dispatched"),
        (number, "FIXED", "handled")]
    assert updates[-1]["description"] == "已更换井盖"
    assert updates[-1]["media_url"] == "https://x.example/a.jpg"
    later = (datetime.now(UTC) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert server.http.get(f"{server.base}/servicerequestupdates.json",
                           params={"start_date": later}).json() == []


def test_posted_update_is_a_comment_on_the_case(server):
    number = filed(server, description="九州路口井盖坏了", **POINT)
    form = {"service_request_id": number, "description": "还没修好", "status": "OPEN",
            "update_id_ext": "fms-1", "first_name": "A", "last_name": "User"}
    one = server.post("servicerequestupdates.json", form)
    assert one.status_code == 201
    again = server.post("servicerequestupdates.json", form)
    assert one.json() == again.json()
    update_id = one.json()[0]["update_id"]
    with transaction(server.runtime.sessions) as session:
        [comment] = session.scalars(select(CaseEvent).where(CaseEvent.status == "comment")).all()
        assert str(comment.id) == update_id and comment.note == "还没修好"
        assert comment.actor == "open311:fixmystreet" and comment.data["client_status"] == "OPEN"
        assert session.scalar(select(Case)).status == "accepted"  # a comment moves nothing
    listed = server.http.get(f"{server.base}/servicerequestupdates.json").json()
    assert listed[-1]["update_id"] == update_id and listed[-1]["status"] == "OPEN"
    missing = server.post("servicerequestupdates.json", {**form, "service_request_id": "GI-1",
                                                          "update_id_ext": "fms-2"})
    assert missing.status_code == 404
