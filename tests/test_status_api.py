"""`POST /api/v1/cases/<number>/events`: signed status callbacks from the platform."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import func, select

from bot.signing import signature
from gateway.app import create_app
from storage.db import transaction
from storage.models import CaseEvent, Outbox
from tests.forwarding_fixtures import PLATFORM_SECRET, signed_post


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
    path = f"/api/v1/cases/{number}/events"
    assert signed_post(api, path, {"status": "filed"}).status_code == 200
    answer = signed_post(api, path, {"status": "dispatched", "department": "市政设施管理处"})
    assert answer.status_code == 200
    assert answer.json["status"] == "dispatched"
    assert answer.json["event"]["department"] == "市政设施管理处"
    signed_post(api, path, {"status": "in_progress"})
    signed_post(api, path, {"status": "handled", "note": "已更换井盖"})
    closed = signed_post(api, path, {"status": "closed", "note": "已办结",
                                     "photo_url": "https://platform.example/p/1.jpg"})
    assert closed.status_code == 200
    case = fwd.case(number)
    assert case.status == "closed" and case.closed_at is not None
    assert [e.status for e in case.events] == ["accepted", "filed", "dispatched", "in_progress",
                                               "handled", "closed"]
    assert case.events[-1].photo_url == "https://platform.example/p/1.jpg"
    assert all(e.actor == "platform" for e in case.events[1:])
    reopened = signed_post(api, path, {"status": "reopened", "note": "市民反映未修好"})
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
    answer = signed_post(api, f"/api/v1/cases/{number}/events", body)
    assert answer.status_code == expected and answer.json["error"]
    assert _snapshot(fwd, number) == before


def test_illegal_transition_is_409_and_changes_nothing(fwd, api):
    number = fwd.file()
    path = f"/api/v1/cases/{number}/events"
    assert signed_post(api, path, {"status": "closed"}).status_code == 200
    before = _snapshot(fwd, number)
    answer = signed_post(api, path, {"status": "dispatched", "department": "市政设施管理处"})
    assert answer.status_code == 409 and "closed" in answer.json["error"]
    assert _snapshot(fwd, number) == before


def test_unknown_case_is_404(fwd, api):
    answer = signed_post(api, "/api/v1/cases/GI-20000101-999999/events", {"status": "filed"})
    assert answer.status_code == 404


@pytest.mark.parametrize("how", ["missing", "wrong secret", "tampered", "stale", "garbled"])
def test_bad_signatures_are_refused_and_change_nothing(fwd, api, how):
    number = fwd.file()
    path = f"/api/v1/cases/{number}/events"
    before = _snapshot(fwd, number)
    body = b'{"status": "filed"}'
    header = {
        "missing": "",
        "wrong secret": signature("not-the-secret", body),
        "tampered": signature(PLATFORM_SECRET, b'{"status": "closed"}'),
        "stale": signature(PLATFORM_SECRET, body, int(time.time()) - 301),
        "garbled": "v1=abc",
    }[how]
    answer = signed_post(api, path, body, header=header)
    assert answer.status_code == (401 if how == "missing" else 403)
    assert _snapshot(fwd, number) == before


def test_a_signature_within_the_window_is_accepted(fwd, api):
    number = fwd.file()
    answer = signed_post(api, f"/api/v1/cases/{number}/events", {"status": "filed"},
                         timestamp=int(time.time()) - 240)
    assert answer.status_code == 200
