"""`POST /api/v1/cases/<number>/events`: signed status callbacks from the platform."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import func, select

from bot.signing import signature
from gateway.app import create_app
from storage.db import transaction
from storage.models import CaseEvent, Outbox
from tests.forwarding_fixtures import PLATFORM_SECRET, post_event, signed_post


@pytest.fixture
def api(fwd):
    return create_app(fwd.runtime).test_client()


def _snapshot(env, number: str):
    case = env.case(number)
    with transaction(env.runtime.sessions) as session:
        events = session.scalar(select(func.count()).select_from(CaseEvent))
        rows = session.scalar(select(func.count()).select_from(Outbox))
    return case.status, events, rows


def test_signed_events_drive_the_status(fwd, api):
    number = fwd.file()
    assert post_event(api, number, {"status": "filed"}).status_code == 200
    answer = post_event(api, number, {"status": "dispatched", "department": "市政设施管理处"})
    assert answer.status_code == 200
    assert answer.json["status"] == "dispatched"
    assert answer.json["event"]["department"] == "市政设施管理处"
    post_event(api, number, {"status": "in_progress"})
    post_event(api, number, {"status": "handled", "note": "已更换井盖"})
    closed = post_event(api, number, {"status": "closed", "note": "已办结",
                                      "photo_url": "https://platform.example/p/1.jpg"})
    assert closed.status_code == 200
    case = fwd.case(number)
    assert case.status == "closed" and case.closed_at is not None
    assert [e.status for e in case.events] == ["accepted", "filed", "dispatched", "in_progress",
                                               "handled", "closed"]
    assert case.events[-1].photo_url == "https://platform.example/p/1.jpg"
    assert all(e.actor == "platform" for e in case.events[1:])
    reopened = post_event(api, number, {"status": "reopened", "note": "市民反映未修好"})
    assert reopened.status_code == 200 and fwd.case(number).closed_at is None


@pytest.mark.parametrize(("body", "expected"), [
    (b"{not json", 400),
    ({"note": "no status"}, 400),
    ({"status": "teleported"}, 400),
    ({"status": "dispatched"}, 400),  # department missing
    ({"status": "rejected"}, 400),  # reason missing
    ({"status": "filed", "note": 12}, 400),
    ({"status": "filed", "surprise": 1}, 400),
])
def test_malformed_events_change_nothing(fwd, api, body, expected):
    number = fwd.file()
    before = _snapshot(fwd, number)
    if isinstance(body, dict):
        answer = post_event(api, number, body)
    else:
        answer = signed_post(api, f"/api/v1/cases/{number}/events", body)
    assert answer.status_code == expected and answer.json["error"]
    assert _snapshot(fwd, number) == before


def test_illegal_transition_is_409_and_changes_nothing(fwd, api):
    number = fwd.file()
    assert post_event(api, number, {"status": "closed"}).status_code == 200
    before = _snapshot(fwd, number)
    answer = post_event(api, number, {"status": "dispatched", "department": "市政设施管理处"})
    assert answer.status_code == 409 and "closed" in answer.json["error"]
    assert _snapshot(fwd, number) == before


def test_unknown_case_is_404(fwd, api):
    answer = post_event(api, "GI-20000101-999999", {"status": "filed"})
    assert answer.status_code == 404


@pytest.mark.parametrize("how", ["missing", "wrong secret", "tampered", "stale", "garbled"])
def test_bad_signatures_are_refused_and_change_nothing(fwd, api, how):
    number = fwd.file()
    path = f"/api/v1/cases/{number}/events"
    before = _snapshot(fwd, number)
    body = f'{{"case": "{number}", "event_id": "e1", "status": "filed"}}'.encode()
    header = {
        "missing": "",
        "wrong secret": signature("not-the-secret", body),
        "tampered": signature(PLATFORM_SECRET, body.replace(b"filed", b"closed")),
        "stale": signature(PLATFORM_SECRET, body, int(time.time()) - 301),
        "garbled": "v1=abc",
    }[how]
    answer = signed_post(api, path, body, header=header)
    assert answer.status_code == (401 if how == "missing" else 403)
    assert _snapshot(fwd, number) == before


def test_a_signature_within_the_window_is_accepted(fwd, api):
    number = fwd.file()
    answer = post_event(api, number, {"status": "filed"}, timestamp=int(time.time()) - 240)
    assert answer.status_code == 200


def test_a_repeated_event_id_gets_the_first_answer_and_changes_nothing(fwd, api):
    number = fwd.file()
    assert post_event(api, number, {"status": "filed"}).status_code == 200
    event = {"status": "dispatched", "department": "市政设施管理处"}
    first = post_event(api, number, event, event_id="platform-77")
    assert first.status_code == 200
    fwd.drain()
    before = _snapshot(fwd, number)
    sent = len(fwd.residents.sent)
    for _ in range(4):  # the platform retries the same signed event
        again = post_event(api, number, event, event_id="platform-77")
        assert again.status_code == 200 and again.json == first.json
    fwd.drain()
    assert _snapshot(fwd, number) == before
    assert len(fwd.residents.sent) == sent  # one dispatch notice to the resident, not five


def test_an_event_is_bound_to_its_case(fwd, api):
    target, other = fwd.file(), fwd.file("路灯不亮了", sender="2002")
    assert post_event(api, target, {"status": "closed"}, event_id="x2").status_code == 200
    before = _snapshot(fwd, other)
    signed_for_target = {"case": target, "event_id": "x1", "status": "closed"}
    answer = signed_post(api, f"/api/v1/cases/{other}/events", signed_for_target)
    assert answer.status_code == 400
    assert target in answer.json["error"] and other in answer.json["error"]
    assert _snapshot(fwd, other) == before
    reused = post_event(api, other, {"status": "closed"}, event_id="x2")
    assert reused.status_code == 409 and _snapshot(fwd, other) == before


@pytest.mark.parametrize(("body", "says"), [
    ({"event_id": "e1", "status": "filed"}, 'missing "case"'),
    ({"case": "NUMBER", "status": "filed"}, 'missing "event_id"'),
    ({"case": "NUMBER", "event_id": "", "status": "filed"}, 'missing "event_id"'),
    ({"case": "NUMBER", "event_id": "e" * 121, "status": "filed"}, 'missing "event_id"'),
    ({"case": "NUMBER", "event_id": "e1", "status": ["filed"]}, '"status" must be a string'),
])
def test_missing_case_or_event_id_is_400_with_a_clear_message(fwd, api, body, says):
    number = fwd.file()
    before = _snapshot(fwd, number)
    body = {k: (number if v == "NUMBER" else v) for k, v in body.items()}
    answer = signed_post(api, f"/api/v1/cases/{number}/events", body)
    assert answer.status_code == 400 and says in answer.json["error"]
    assert _snapshot(fwd, number) == before


@pytest.mark.parametrize("header", ["t=²,v1=00", "t=" + "9" * 30 + ",v1=00", "t=-5,v1=00", "t=,v1=",
                                    "t=1.5,v1=00", "garbage", "t=1\x00,v1=00"])
def test_malformed_signature_headers_are_refused_not_500(fwd, api, header):
    number = fwd.file()
    answer = signed_post(api, f"/api/v1/cases/{number}/events", {"case": number, "event_id": "e",
                                                                  "status": "filed"}, header=header)
    assert answer.status_code in (400, 401, 403) and answer.json["error"]
