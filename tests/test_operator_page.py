"""The operator page in headless Chromium: paste a transcript, see the extraction, correct the
category, submit, read the case number."""

from __future__ import annotations

import re
import threading

import pytest
from sqlalchemy import select
from werkzeug.serving import make_server

from gateway.app import create_app
from storage.db import transaction
from storage.models import Case, Outbox
from tests.conftest import make_runtime
from tests.support.browser import screenshot
from tests.support.users import add_user

pytestmark = pytest.mark.browser
TRANSCRIPT = ("话务员：您好，12345热线，请讲。\n"
              "市民：淇滨大道与九州路交叉口的井盖坏了，晚上很危险，我电话13900001111。\n"
              "话务员：好的，已记录。")


@pytest.fixture
def site(tmp_path):
    runtime = make_runtime(tmp_path / "var")
    token = add_user(runtime, "zhang", "operator")
    server = make_server("127.0.0.1", 0, create_app(runtime), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield runtime, f"http://127.0.0.1:{server.server_port}", token
    server.shutdown()
    runtime.db.dispose()


def test_operator_previews_corrects_and_files_a_transcript(site, page):
    runtime, base, token = site
    page.goto(base + "/operator/transcripts")
    page.fill("#token", token)
    page.dispatch_event("#token", "change")
    page.fill("#call_id", "WEB-1")
    page.fill("#transcript", TRANSCRIPT)
    page.wait_for_function("document.getElementById('grid').textContent.startsWith('410611')",
                           timeout=20_000)
    assert page.input_value("#label").startswith("component:01")
    assert page.input_value("#caller_phone") == "13900001111"  # found in the caller's words
    assert "话务员" not in page.text_content("#citizen_text")
    options = page.eval_on_selector_all("#label option", "els => els.map(e => e.value)")
    assert len(options) > 50 and "none" in options
    corrected = next(o for o in options[1:4] if o != page.input_value("#label"))
    page.select_option("#label", corrected)
    page.check("#consent_sms")
    page.click("#submit")
    page.wait_for_selector("#result:not([hidden])", timeout=20_000)
    text = page.text_content("#result")
    number = re.search(r"GI-\d{8}-\d{6}", text).group()
    assert "短信" in text
    screenshot(page, "operator", "operator_page")
    with transaction(runtime.sessions) as session:
        case = session.scalar(select(Case).where(Case.number == number))
        assert case.channel == "hotline" and case.label == corrected
        assert case.grid_code.startswith("410611")
        sms = session.scalar(select(Outbox).where(Outbox.sink == "sms"))
        assert sms.target == "+8613900001111" and number in sms.payload["text"]


def test_a_wrong_token_is_shown_as_an_error(site, page):
    _, base, _ = site
    page.goto(base + "/operator/transcripts")
    page.fill("#token", "wrong")
    page.dispatch_event("#token", "change")
    page.fill("#transcript", TRANSCRIPT)
    page.wait_for_selector("#error:not([hidden])", timeout=20_000)
    assert "operator" in page.text_content("#error")


def test_each_call_starts_blank_and_an_out_of_scope_call_is_a_referral(site, page):
    """The second caller gets nothing of the first (phone, consent, corrected category); a
    pension question is logged as a referral, not a case, and the caller texted 12333; a number
    read out as Chinese digits is found."""
    runtime, base, token = site
    page.goto(base + "/operator/transcripts")
    page.fill("#token", token)
    page.dispatch_event("#token", "change")
    page.fill("#transcript", TRANSCRIPT)
    page.wait_for_function("document.getElementById('grid').textContent.startsWith('410611')",
                           timeout=20_000)
    first_call = page.input_value("#call_id")
    page.fill("#place", "华夏南路")
    page.check("#consent_sms")
    page.click("#submit")
    page.wait_for_selector("#result:not([hidden])", timeout=20_000)
    assert re.search(r"GI-\d{8}-\d{6}", page.text_content("#result"))
    assert page.input_value("#transcript") == "" and page.input_value("#caller_phone") == ""
    assert page.input_value("#place") == "" and not page.is_checked("#consent_sms")
    assert page.input_value("#call_id") != first_call

    page.fill("#transcript", "市民：我想问问我的养老金这个月怎么还没到账，我电话幺三九零零零零二二二二。")
    page.wait_for_function("document.getElementById('caller_phone').value !== ''", timeout=20_000)
    assert page.input_value("#caller_phone") == "13900002222"
    assert page.input_value("#label") == "none"
    page.check("#consent_sms")
    page.click("#submit")
    page.wait_for_function("document.getElementById('result').textContent.includes('转介')",
                           timeout=20_000)
    assert "12333" in page.text_content("#result")
    with transaction(runtime.sessions) as session:
        assert len(session.scalars(select(Case)).all()) == 1
        texts = {row.target: row.payload["text"] for row in
                 session.scalars(select(Outbox).where(Outbox.sink == "sms"))}
    assert "12333" in texts["+8613900002222"]
