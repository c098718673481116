"""A case page after a real SMS conversation: the timeline in words, the conversation (phone
numbers masked for operators), what was sent and whether it arrived, photos, duplicates."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from cases.status import apply_status
from gateway.admin.case_page import mask
from gateway.admin.users import set_user
from gateway.app import create_app
from storage.db import transaction
from storage.models import Case
from tests.conftest import make_runtime
from tests.support.sms import ACCOUNT, TOKEN, Texter

PASSWORD = "correct horse battery"
PHONE = "+8613812345678"
NUMBER = re.compile(r"GI-\d{8}-\d{6}")


@pytest.fixture
def filed(tmp_path):
    """A case filed over SMS, dispatched and handled (with an after photo), and a duplicate."""
    runtime = make_runtime(tmp_path / "var", GRIDINTAKE_TWILIO_AUTH_TOKEN=TOKEN,
                           GRIDINTAKE_TWILIO_ACCOUNT_SID=ACCOUNT, GRIDINTAKE_TWILIO_FROM="+14155550100")
    with transaction(runtime.sessions) as session:
        set_user(session, "ann", "admin", PASSWORD, "test")
        set_user(session, "otto", "operator", PASSWORD, "test")
    app = create_app(runtime)
    texter = Texter(app.test_client(), phone=PHONE)
    texter.say("淇滨大道与九州路交叉口的井盖坏了，回电13900001111")
    number = NUMBER.search(texter.say("1")).group()
    with transaction(runtime.sessions) as session:
        case = session.scalar(select(Case).where(Case.number == number))
        apply_status(session, case, "dispatched", department="市政维护中心")
        apply_status(session, case, "handled", note="已更换井盖", photo_url="https://platform.example/after.jpg")
        session.add(Case(number="GI-DUP-1", label=case.label, text="井盖又坏了", channel="hotline",
                         duplicate_of_id=case.id, status="accepted"))
    yield app, number
    runtime.db.dispose()


def page_as(app, name: str, number: str) -> str:
    client = app.test_client()
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/admin/login").text).group(1)
    client.post("/admin/login", data={"name": name, "password": PASSWORD, "csrf_token": token})
    answer = client.get(f"/admin/cases/{number}")
    assert answer.status_code == 200
    return answer.text


def section(page: str, ident: str) -> str:
    return page.split(f'id="{ident}"', 1)[1].split("</section>", 1)[0]


def test_the_case_page_shows_history_conversation_deliveries_photos_and_duplicates(filed):
    app, number = filed
    page = page_as(app, "ann", number)
    timeline = section(page, "timeline")
    shown = [s.split(" ")[0] for s in re.findall(r"<b>([^<]+)</b>", timeline)]
    assert shown == ["已受理", "已派遣", "已处置"]
    assert "市政维护中心" in timeline and "已更换井盖" in timeline
    talk = section(page, "conversation")
    assert "淇滨大道与九州路交叉口的井盖坏了" in talk and "13900001111" in talk
    assert number in talk  # the confirmation the resident got
    deliveries = section(page, "deliveries")
    assert deliveries.count("<tr class=") >= 2  # the two notices to the resident
    assert "+8613812345678" in deliveries and "待发送 pending" in deliveries
    assert "https://platform.example/after.jpg" in section(page, "photos")
    assert 'href="/admin/cases/GI-DUP-1"' in section(page, "duplicates")


def test_operators_see_phone_numbers_masked(filed):
    app, number = filed
    page = page_as(app, "otto", number)
    assert "13900001111" not in page and "13812345678" not in page
    assert "139****1111" in section(page, "conversation")
    assert "+86138****5678" in section(page, "deliveries")


@pytest.mark.parametrize(("text", "shown"), [
    ("电话13900001111", "电话139****1111"), ("+8613900001111", "+86139****1111"),
    ("编号 2026013900001111", "编号 2026013900001111"),  # part of a longer number: left alone
    ("", ""),
])
def test_mask(text, shown):
    assert mask(text, reveal=False) == shown
    assert mask(text, reveal=True) == text
