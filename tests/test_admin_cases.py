"""The case list's filters, pages and CSV export through the Flask test client."""

from __future__ import annotations

import csv
import io
import re
from datetime import datetime, timedelta

import pytest

from cases.filing import CITY_TZ
from gateway.admin.users import set_user
from gateway.app import create_app
from storage.db import transaction
from storage.models import Attachment, Case, utcnow

PASSWORD = "correct horse battery"
CELL = "41061100100101"


@pytest.fixture
def client(runtime):
    with transaction(runtime.sessions) as session:
        set_user(session, "otto", "operator", PASSWORD, "test")
    app = create_app(runtime)
    app.testing = True
    client = app.test_client()
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/admin/login").text).group(1)
    answer = client.post("/admin/login", data={"name": "otto", "password": PASSWORD, "csrf_token": token})
    assert answer.status_code == 302
    return client


def add_case(runtime, number: str, **fields) -> int:
    values = {"label": "component:0101", "kind": "component", "major": "01", "minor": "0101",
              "category_name": "上水井盖", "text": "井盖丢了", "channel": "telegram",
              "status": "accepted", "created_at": utcnow(), "number": number, **fields}
    with transaction(runtime.sessions) as session:
        case = Case(**values)
        session.add(case)
        session.flush()
        return case.id


def numbers(page: str) -> list[str]:
    body = page.split('id="case-list"', 1)[1]
    return re.findall(r'href="/admin/cases/(GI-[^"]+)"', body)


@pytest.fixture
def city(runtime) -> None:
    """Five cases that differ in one way each from the first."""
    march = datetime(2026, 3, 10, 9, tzinfo=CITY_TZ)
    add_case(runtime, "GI-A", created_at=march, grid_code=CELL, district="淇滨区", street="九州路街道",
             community="天山社区", rating=5)
    add_case(runtime, "GI-B", created_at=march + timedelta(days=1), status="closed", rating=1)
    add_case(runtime, "GI-C", created_at=march + timedelta(days=2), channel="sms", overdue=True,
             label="event:0101", kind="event", major="01", minor="0101", category_name="私搭乱建")
    photo = add_case(runtime, "GI-D", created_at=march + timedelta(days=3), label="component:0203",
                     major="02", minor="0203")
    with transaction(runtime.sessions) as session:
        session.add(Attachment(case_id=photo, path="x.jpg", sha256="0" * 64, mime="image/jpeg", size=3))
    add_case(runtime, "GI-E", created_at=march + timedelta(days=4), text="=HYPERLINK(\"http://x\")")


@pytest.mark.parametrize(("query", "expected"), [
    ("", ["GI-E", "GI-D", "GI-C", "GI-B", "GI-A"]),
    (f"grid={CELL}", ["GI-A"]),
    ("district=淇滨区&street=九州路街道&community=天山社区", ["GI-A"]),
    ("status=closed", ["GI-B"]),
    ("label=component:01", ["GI-E", "GI-B", "GI-A"]),  # a major class takes its minor classes
    ("label=component:0203", ["GI-D"]),
    ("channel=sms", ["GI-C"]),
    ("from=2026-03-11&to=2026-03-12", ["GI-C", "GI-B"]),  # `to` is inclusive, days in the city
    ("overdue=1", ["GI-C"]),
    ("photo=1", ["GI-D"]),
    ("photo=0&label=component:02", []),
    ("rating=low", ["GI-B"]),
    ("rating=5", ["GI-A"]),
    ("rating=none&channel=telegram", ["GI-E", "GI-D"]),
    ("q=HYPERLINK", ["GI-E"]),
])
def test_each_filter_is_a_query_parameter(client, city, query, expected):
    answer = client.get(f"/admin/cases?{query}")
    assert answer.status_code == 200
    assert numbers(answer.text) == expected


@pytest.mark.parametrize("query", ["status=lost", "from=yesterday", "from=2026-03-12&to=2026-03-01",
                                   "rating=9", "overdue=maybe"])
def test_nonsense_filters_get_a_clear_400(client, query):
    answer = client.get(f"/admin/cases?{query}")
    assert answer.status_code == 400
    assert "<h1" in answer.text


def test_pages_of_fifty_keep_the_filter(client, runtime):
    start = utcnow() - timedelta(days=1)
    for i in range(120):
        add_case(runtime, f"GI-{i:03d}", created_at=start + timedelta(minutes=i),
                 channel="sms" if i % 2 else "telegram")
    first = client.get("/admin/cases?channel=sms").text
    assert numbers(first)[:2] == ["GI-119", "GI-117"] and len(numbers(first)) == 50
    assert 'rel="prev"' not in first
    next_link = re.search(r'rel="next" href="([^"]+)"', first).group(1).replace("&amp;", "&")
    assert "channel=sms" in next_link and "page=2" in next_link
    second = client.get(next_link).text
    assert numbers(second)[0] == "GI-019"
    last = client.get("/admin/cases?channel=sms&page=2").text
    assert len(numbers(last)) == 10 and 'rel="next"' not in last


def test_csv_export_of_the_filtered_set_is_safe_in_spreadsheets(client, city):
    page = client.get("/admin/cases?label=component:01").text
    link = re.search(r'id="export" href="([^"]+)"', page).group(1).replace("&amp;", "&")
    answer = client.get(link)
    assert answer.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(answer.data.decode("utf-8-sig"))))
    assert [r["number"] for r in rows] == ["GI-E", "GI-B", "GI-A"]
    assert rows[0]["text"] == "'=HYPERLINK(\"http://x\")"
    assert rows[2]["grid_code"] == CELL and rows[2]["rating"] == "5"


def test_the_export_streams_more_than_one_chunk(client, runtime):
    with transaction(runtime.sessions) as session:
        session.add_all(Case(number=f"GI-X{i}", label="event:0101", text="-1+1", channel="sms")
                        for i in range(2500))
    answer = client.get("/admin/cases/export.csv?channel=sms")
    lines = answer.data.decode("utf-8-sig").splitlines()
    assert len(lines) == 2501
    assert all(line.endswith(",'-1+1") for line in lines[1:])
