"""The admin UI in headless Chromium: sign in, add a keyword, see "try a text" change, run the
evaluation with its heatmap, activate a retrained model. Screenshots go to test-artifacts/admin/."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from datetime import timedelta

import pytest
from werkzeug.serving import make_server

from gateway.admin.users import set_user
from gateway.app import create_app
from nlp.model import default_model_dir
from storage.db import transaction
from storage.models import Case, utcnow
from tests.support.browser import screenshot

pytestmark = pytest.mark.browser

PASSWORD = "correct horse battery"
NEW_WORD = "蓝莓怪兽"
TEXT = f"淇滨大道与九州路交叉口那个{NEW_WORD}又出来了"
TARGET = "component:0101"


@pytest.fixture
def server(runtime) -> Iterator[str]:
    with transaction(runtime.sessions) as session:
        set_user(session, "ann", "admin", PASSWORD, "test")
        now = utcnow()
        for i, (label, grid, closed) in enumerate([
            ("component:0101", "41061100100101", 1), ("event:0101", "41061100100101", 5),
            ("component:0102", "41061100100102", None), ("event:0101", None, None),
        ]):
            made = now - timedelta(days=i, hours=3)
            session.add(Case(number=f"GI-B{i}", label=label, text="示例案件", channel="telegram",
                             status="closed" if closed else "accepted", grid_code=grid,
                             created_at=made, due_at=made + timedelta(hours=2),
                             closed_at=made + timedelta(hours=closed) if closed else None,
                             needs_review=closed is None, confidence=0.3))
    http = make_server("127.0.0.1", 0, create_app(runtime), threaded=True)
    thread = threading.Thread(target=http.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{http.server_port}"
    http.shutdown()


def _shot(page, name: str) -> None:
    screenshot(page, "admin", name)


def test_keyword_edit_try_evaluate_and_activate_a_model_in_a_browser(server, page, runtime):
    page.goto(f"{server}/admin/dashboard")
    assert "/admin/login" in page.url
    _shot(page, "01-login")
    page.fill("input[name=name]", "ann")
    page.fill("input[name=password]", PASSWORD)
    page.click("button.primary")
    page.wait_for_url("**/admin/dashboard")
    page.wait_for_function("document.querySelector('.city-map').dataset.cellsShown > 10")  # the map
    _shot(page, "02-dashboard")

    page.goto(f"{server}/admin/try")
    page.fill("textarea[name=text]", TEXT)
    page.click("button.primary")
    assert TARGET not in page.inner_text("p.answer")

    page.goto(f"{server}/admin/categories/{TARGET}")
    zh = page.locator("textarea[name=zh]")
    zh.fill(zh.input_value() + f"\n{NEW_WORD}")
    _shot(page, "03-edit-keyword")
    page.click("#edit-form button.primary")
    assert "已保存" in page.inner_text(".flash.ok")

    page.fill("section.card textarea[name=text]", TEXT)  # the try box beside the form
    page.click("section.card form button")
    page.wait_for_url("**/admin/try")
    assert TARGET in page.inner_text("p.answer")
    assert NEW_WORD in page.inner_text("#result ~ section")
    _shot(page, "04-try-after")

    page.goto(f"{server}/admin/evaluate")
    page.select_option("select[name=baseline]", "previous")
    page.click("#eval-form button.primary")
    page.wait_for_selector("#heatmap svg", timeout=120_000)
    assert page.locator("#heatmap svg rect.cell").count() > 10
    assert "首选正确率" in page.inner_text("#figures")
    _shot(page, "05-evaluate")

    page.goto(f"{server}/admin/review")
    assert page.locator("article.case").count() == 2
    _shot(page, "06-review")
    page.goto(f"{server}/admin/categories")
    _shot(page, "07-categories")

    name = "model-20260101-000000"  # as a retraining leaves it (the real one takes minutes)
    shutil.copytree(default_model_dir(), runtime.config.data_dir / "models" / name)
    page.goto(f"{server}/admin/models")
    page.click(f"tr[data-model='{name}'] button.primary")
    assert "已启用" in page.inner_text(".flash.ok")
    assert page.inner_text("#active-model") == name
    assert page.locator("tr.on").get_attribute("data-model") == name
    _shot(page, "08-models")
