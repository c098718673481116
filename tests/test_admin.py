"""The admin UI through the Flask test client: access, CSRF, audit, keywords and their effect,
evaluation, review, retraining, dashboard, and the `users` / `categories` commands."""

from __future__ import annotations

import hashlib
import io
import json
import re
import shutil
import threading
from datetime import timedelta

import pytest
import yaml
from sqlalchemy import func, select

from bot.oneshot import file_report
from gateway.admin.retrain import RetrainJob
from gateway.cli import main as cli
from nlp.model import default_model_dir
from storage.catalog import effective_tree, keyword_version
from storage.db import transaction
from storage.models import AuditLog, Case, TrainingExample, User, utcnow
from tests.support.admin import PASSWORD, _token, login

NEW_WORD = "蓝莓怪兽"  # a made-up word no class knows until an administrator adds it
TEXT = f"小区门口那个{NEW_WORD}又出来了"
TARGET = "component:0101"  # 上水井盖
ADMIN_PAGES = ["/admin/dashboard", "/admin/categories", f"/admin/categories/{TARGET}", "/admin/try",
               "/admin/evaluate", "/admin/review", "/admin/audit", "/admin/categories/export.csv",
               "/admin/dashboard/export.csv", "/admin/retrain/status"]
OPERATOR_PAGES = ["/admin/cases"]


def _answer(page: str) -> str:
    return re.search(r'<p class="answer">(.*?)</p>', page, re.S).group(1)


def _edit_fields(client, label: str) -> dict[str, str]:
    page = client.get(f"/admin/categories/{label}").text
    fields = {name: value for name, value in re.findall(r'<input name="(\w+)" value="([^"]*)"', page)}
    for name in ("zh", "en", "negative"):
        fields[name] = re.search(rf'<textarea name="{name}"[^>]*>(.*?)</textarea>', page, re.S).group(1)
    fields["enabled"] = "on"
    return fields


def _add_keyword(client, token: str, label: str, word: str):
    fields = _edit_fields(client, label)
    fields["zh"] += f"\n{word}"
    return client.post(f"/admin/categories/{label}", data={**fields, "csrf_token": token})


# ------------------------------------------------------------------------------------- access


@pytest.mark.parametrize("path", ADMIN_PAGES + OPERATOR_PAGES)
def test_anonymous_is_sent_to_the_login_page(app, path):
    answer = app.test_client().get(path)
    assert answer.status_code == 302
    assert answer.location.startswith("/admin/login")


@pytest.mark.parametrize("path", ADMIN_PAGES)
def test_operator_cannot_open_admin_pages(app, path):
    client = app.test_client()
    login(client, "otto")
    assert client.get(path).status_code == 403


def test_operator_looks_cases_up_and_admin_sees_everything(app, runtime):
    _case(runtime, "GI-1", text="井盖丢了", contact_phone="13800138000")
    operator = app.test_client()
    login(operator, "otto")
    found = operator.get("/admin/cases?q=13800138000")
    assert found.status_code == 200 and "GI-1" in found.text
    assert "GI-1" not in operator.get("/admin/cases?q=路灯").text
    assert operator.get("/admin/cases/GI-1").status_code == 200
    assert "类别与关键词" not in found.text  # no admin links in an operator's menu
    admin = app.test_client()
    login(admin)
    for path in ADMIN_PAGES + OPERATOR_PAGES:
        assert admin.get(path).status_code == 200, path


def test_wrong_password_and_session_cookie(app):
    client = app.test_client()
    token = _token(client.get("/admin/login").text)
    wrong = client.post("/admin/login", data={"name": "ann", "password": "nope", "csrf_token": token})
    assert wrong.status_code == 401
    assert client.get("/admin/dashboard").status_code == 302
    answer = client.post("/admin/login", data={"name": "ann", "password": PASSWORD, "csrf_token": token})
    cookie = answer.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert client.get("/admin/dashboard").status_code == 200


def test_login_is_rate_limited(app):
    client = app.test_client()
    token = _token(client.get("/admin/login").text)
    codes = [client.post("/admin/login", data={"name": "ann", "password": f"guess{i}",
                                               "csrf_token": token}).status_code for i in range(6)]
    assert codes[:5] == [401] * 5 and codes[5] == 429
    blocked = client.post("/admin/login", data={"name": "ann", "password": PASSWORD, "csrf_token": token})
    assert blocked.status_code == 429  # even the right password waits
    other = app.test_client()
    assert login(other, "otto")  # another account from the same address still works


def test_next_only_leads_inside_admin(app):
    client = app.test_client()
    token = _token(client.get("/admin/login").text)
    answer = client.post("/admin/login", data={"name": "ann", "password": PASSWORD, "csrf_token": token,
                                               "next": "https://evil.example/"})
    assert answer.location == "/admin/"


def test_logout_ends_the_session(app):
    client = app.test_client()
    token = login(client)
    assert client.post("/admin/logout", data={"csrf_token": token}).status_code == 302
    assert client.get("/admin/dashboard").status_code == 302


# --------------------------------------------------------------------------------------- CSRF


@pytest.mark.parametrize("token", [None, "forged"])
def test_forms_without_the_session_token_are_refused(app, runtime, token):
    client = app.test_client()
    login(client)
    fields = _edit_fields(client, TARGET)
    fields["zh"] += f"\n{NEW_WORD}"
    if token:
        fields["csrf_token"] = token
    answer = client.post(f"/admin/categories/{TARGET}", data=fields)
    assert answer.status_code == 400 and "CSRF" in answer.text
    with transaction(runtime.sessions) as session:
        assert keyword_version(session) == 0
        assert NEW_WORD not in {k.text for k in effective_tree(session).get(TARGET).keywords()}
    login_form = app.test_client()
    assert login_form.post("/admin/login", data={"name": "ann", "password": PASSWORD}).status_code == 400


# ------------------------------------------------------------------------ keywords and effect


def test_keyword_edit_bumps_the_version_is_audited_and_try_changes_at_once(app, runtime):
    runtime.classifier_check_s = 0.0  # running classifiers re-check at once, not after a second
    client = app.test_client()
    token = login(client)
    before = client.post("/admin/try", data={"text": TEXT, "csrf_token": token})
    assert TARGET not in _answer(before.text)
    saved = _add_keyword(client, token, TARGET, NEW_WORD)
    assert saved.status_code == 302
    after = client.post("/admin/try", data={"text": TEXT, "csrf_token": token})
    assert TARGET in _answer(after.text)
    assert f'<span class="tag">{NEW_WORD}</span>' in after.text  # the evidence names the keyword
    assert runtime.classifiers.current().classify(TEXT).label == TARGET  # and running classifiers
    with transaction(runtime.sessions) as session:
        assert keyword_version(session) == 1
        row = session.scalar(select(AuditLog).where(AuditLog.action == "category.update"))
        assert row.actor == "ann" and row.target == TARGET
        assert NEW_WORD not in row.before[TARGET]["zh"] and NEW_WORD in row.after[TARGET]["zh"]
    assert NEW_WORD in client.get("/admin/audit").text


def test_saving_nothing_new_changes_no_version(app, runtime):
    client = app.test_client()
    token = login(client)
    answer = client.post(f"/admin/categories/{TARGET}", data={**_edit_fields(client, TARGET),
                                                             "csrf_token": token})
    assert answer.status_code == 302
    with transaction(runtime.sessions) as session:
        assert keyword_version(session) == 0
        assert session.scalar(select(func.count()).select_from(AuditLog)
                              .where(AuditLog.action.like("category.%"))) == 0


def test_weights_and_bad_input(app, runtime):
    client = app.test_client()
    token = login(client)
    fields = _edit_fields(client, TARGET)
    bad = client.post(f"/admin/categories/{TARGET}",
                      data={**fields, "zh": "井盖 | heavy", "csrf_token": token})
    assert bad.status_code == 400 and "未保存" in bad.text
    good = client.post(f"/admin/categories/{TARGET}",
                       data={**fields, "zh": fields["zh"] + f"\n{NEW_WORD} | 0.5", "csrf_token": token})
    assert good.status_code == 302
    with transaction(runtime.sessions) as session:
        weights = {k.text: k.weight for k in effective_tree(session).get(TARGET).keywords_zh}
    assert weights[NEW_WORD] == 0.5
    assert f"{NEW_WORD} | 0.5" in client.get(f"/admin/categories/{TARGET}").text


def test_a_keyword_of_two_classes_is_warned_about(app):
    client = app.test_client()
    token = login(client)
    _add_keyword(client, token, TARGET, NEW_WORD)
    _add_keyword(client, token, "component:0102", NEW_WORD)
    page = client.get(f"/admin/categories/{TARGET}").text
    assert "也属于其他类别" in page and "component:0102" in page
    assert f"<b>{NEW_WORD.casefold()}</b>" in client.get("/admin/categories").text


@pytest.mark.parametrize("fmt", ["csv", "yaml"])
def test_export_then_import_round_trips_and_audits(app, runtime, fmt):
    client = app.test_client()
    token = login(client)
    exported = client.get(f"/admin/categories/export.{fmt}").data.decode("utf-8-sig")
    same = client.post("/admin/categories/import", data={
        "csrf_token": token, "file": (io.BytesIO(exported.encode()), f"tree.{fmt}")})
    assert same.status_code == 302
    with transaction(runtime.sessions) as session:
        assert keyword_version(session) == 0  # the unchanged tree changes nothing
    edited = exported.replace("市供水公司", "市自来水集团", 1)
    client.post("/admin/categories/import", data={
        "csrf_token": token, "file": (io.BytesIO(edited.encode()), f"tree.{fmt}")})
    with transaction(runtime.sessions) as session:
        tree = effective_tree(session)
        assert tree.get(TARGET).department == "市自来水集团"
        row = session.scalar(select(AuditLog).where(AuditLog.action == "category.import"))
        assert row.before[TARGET]["department"] == "市供水公司"
        assert row.after[TARGET]["department"] == "市自来水集团"


def test_a_bad_import_changes_nothing(app, runtime):
    client = app.test_client()
    token = login(client)
    text = "label,name_zh,enabled\ncomponent:0101,上水井盖,yes\nevent:9999,不存在,yes\n"
    answer = client.post("/admin/categories/import", data={
        "csrf_token": token, "file": (io.BytesIO(text.encode()), "tree.csv")}, follow_redirects=True)
    assert "导入失败" in answer.text and "event:9999" in answer.text
    with transaction(runtime.sessions) as session:
        assert keyword_version(session) == 0


# ------------------------------------------------------------------------------- evaluation


def test_evaluation_compares_with_the_version_before_the_last_change(app):
    client = app.test_client()
    token = login(client)
    data = "\n".join(json.dumps({"text": t, "label": TARGET}, ensure_ascii=False)
                     for t in (TEXT, f"{NEW_WORD}坏了", "水表井的盖子没了"))
    _add_keyword(client, token, TARGET, NEW_WORD)
    page = client.post("/admin/evaluate", data={
        "csrf_token": token, "baseline": "previous",
        "file": (io.BytesIO(data.encode()), "mine.jsonl")}).text
    fixed = page[page.index("改好了"):page.index("混淆热力图")]
    assert TEXT in fixed  # right now, wrong before the keyword was added
    assert "mine.jsonl · 3 条" in page
    assert re.search(r"首选正确率 Top-1</td><td class=\"num\">100.0%", page)


def test_evaluation_of_the_dev_set_draws_the_heatmap(app):
    client = app.test_client()
    token = login(client)
    page = client.post("/admin/evaluate", data={"csrf_token": token, "baseline": "shipped"}).text
    assert "内置开发集" in page
    heatmap = page[page.index('id="heatmap"'):]
    assert heatmap.count('<rect class="cell"') > 10
    assert "精确率 Precision" in page


def test_evaluation_rejects_unreadable_sets(app):
    client = app.test_client()
    token = login(client)
    for name, body in (("x.jsonl", '{"text": "路灯坏了", "label": "event:9999"}'),
                       ("x.csv", "words,cls\n路灯坏了,event:0101\n"), ("x.txt", "hello")):
        answer = client.post("/admin/evaluate", data={
            "csrf_token": token, "file": (io.BytesIO(body.encode()), name)})
        assert answer.status_code == 400 and "无法读取数据" in answer.text


# ----------------------------------------------------------------------------------- review


def _case(runtime, number: str, **fields) -> int:
    now = utcnow()
    values = {"label": TARGET, "kind": "component", "major": "01", "minor": "0101",
              "category_name": "上水井盖", "text": "井盖丢了", "channel": "telegram",
              "status": "accepted", "created_at": now, "number": number, **fields}
    with transaction(runtime.sessions) as session:
        case = Case(**values)
        session.add(case)
        session.flush()
        return case.id


def test_review_relabel_makes_a_training_example_and_confirm_does_not(app, runtime):
    unsure = _case(runtime, "GI-R1", text="门口那个盖子歪了", needs_review=True, confidence=0.2)
    corrected = _case(runtime, "GI-R2", text="路灯不亮", label="event:0101", corrected=True, evidence={
        "classification": {"label": "event:0101", "evidence": {"override": "event:0101",
                                                               "classified_as": TARGET}}})
    sure = _case(runtime, "GI-R3", text="自来水井盖没了")
    client = app.test_client()
    token = login(client)
    page = client.get("/admin/review").text
    assert "GI-R1" in page and "GI-R2" in page and "GI-R3" not in page
    client.post(f"/admin/review/{unsure}", data={"csrf_token": token, "action": "relabel",
                                                 "label": "component:0102"})
    client.post(f"/admin/review/{corrected}", data={"csrf_token": token, "action": "confirm"})
    assert 'href="/admin/cases/GI-R1"' not in client.get("/admin/review").text
    with transaction(runtime.sessions) as session:
        case = session.get(Case, unsure)
        assert (case.label, case.label_before_review, case.needs_review) == ("component:0102", TARGET, False)
        assert case.category_name == "污水井盖"
        examples = {(e.text, e.label, e.case_id) for e in session.scalars(select(TrainingExample))}
        # the relabel, and the confirmed resident's correction (it differs from the classifier)
        assert examples == {("门口那个盖子歪了", "component:0102", unsure),
                            ("路灯不亮", "event:0101", corrected)}
        rows = session.scalars(select(AuditLog).where(AuditLog.action.like("review.%")))
        audit = {r.action: r for r in rows}
        assert audit["review.relabel"].before["label"] == TARGET
        assert audit["review.relabel"].after["label"] == "component:0102"
        assert audit["review.confirm"].target == "GI-R2"
    bad = client.post(f"/admin/review/{sure}", data={"csrf_token": token, "action": "relabel",
                                                     "label": "event:9999"})
    assert bad.status_code == 400


def test_a_residents_pick_at_filing_is_reviewed_once(app, runtime):
    """Filing keeps the pick as `corrected`, which the queue reads instead of the evidence JSON."""
    picked = file_report(runtime, text="井盖丢了", label="event:0101", lat=35.75, lon=114.30)
    plain = file_report(runtime, text="井盖丢了", lat=35.75, lon=114.30)
    client = app.test_client()
    token = login(client)
    page = client.get("/admin/review").text
    assert picked["number"] in page and plain["number"] not in page
    with transaction(runtime.sessions) as session:
        case_id = session.scalar(select(Case.id).where(Case.number == picked["number"]))
    client.post(f"/admin/review/{case_id}", data={"csrf_token": token, "action": "confirm"})
    assert f'href="/admin/cases/{picked["number"]}"' not in client.get("/admin/review").text


def _copy_shipped_model(out_dir, files):
    """A stand-in trainer: the real one takes minutes; this one checks what it was given."""
    reviewed = [json.loads(line) for line in files[-1].read_text("utf-8").splitlines()]
    shutil.copytree(default_model_dir(), out_dir)
    return {"examples": len(reviewed), "reviewed": reviewed}


def test_retrain_runs_in_the_background_and_reports_figures(app, runtime):
    unsure = _case(runtime, "GI-T1", text="门口那个盖子歪了", needs_review=True)
    client = app.test_client()
    token = login(client)
    client.post(f"/admin/review/{unsure}", data={"csrf_token": token, "action": "relabel",
                                                 "label": "component:0102"})
    job = RetrainJob(runtime, trainer=_copy_shipped_model)
    app.extensions["admin_retrain"] = job
    assert client.post("/admin/retrain", data={"csrf_token": token}).status_code == 302
    job.join(timeout=120)
    status = client.get("/admin/retrain/status").json
    assert status["state"] == "done", status
    result = status["result"]
    assert result["training"]["reviewed"] == [{"text": "门口那个盖子歪了", "label": "component:0102"}]
    assert result["dev_new"]["n"] == result["dev_current"]["n"] > 300
    assert result["dev_new"]["top1"] == result["dev_current"]["top1"]  # same model copied
    assert "新模型" in client.get("/admin/review").text
    with transaction(runtime.sessions) as session:
        assert session.scalar(select(func.count()).select_from(AuditLog)
                              .where(AuditLog.action == "model.retrain")) == 1


def test_a_failed_retraining_is_reported(app, runtime):
    def broken(out_dir, files):
        raise RuntimeError("out of memory")

    client = app.test_client()
    token = login(client)
    job = RetrainJob(runtime, trainer=broken)
    app.extensions["admin_retrain"] = job
    client.post("/admin/retrain", data={"csrf_token": token})
    job.join(timeout=30)
    assert job.status()["state"] == "failed"
    assert "out of memory" in client.get("/admin/review").text


def test_a_retraining_in_one_worker_is_seen_and_respected_by_the_others(runtime):
    release = threading.Event()

    def slow(out_dir, files):
        release.wait(30)
        return _copy_shipped_model(out_dir, files)

    here, there = RetrainJob(runtime, trainer=slow), RetrainJob(runtime, trainer=_copy_shipped_model)
    assert here.start("admin")
    with transaction(runtime.sessions) as session:
        shown = there.shown(session)
    assert shown["state"] == "running" and shown["actor"] == "admin"
    assert not there.start("other")  # one retraining at a time, whichever worker is asked
    release.set()
    here.join(timeout=120)
    with transaction(runtime.sessions) as session:
        assert there.shown(session)["state"] == "done"
    assert there.start("other") is True
    there.join(timeout=120)


def test_a_start_whose_process_died_is_reported_and_does_not_block(runtime):
    with transaction(runtime.sessions) as session:
        session.add(AuditLog(actor="admin", action="model.retrain_started",
                             created_at=utcnow() - timedelta(hours=3)))
    job = RetrainJob(runtime, trainer=_copy_shipped_model)
    with transaction(runtime.sessions) as session:
        shown = job.shown(session)
    assert shown["state"] == "failed" and "interrupted" in shown["error"]
    assert job.start("admin")
    job.join(timeout=120)
    assert job.status()["state"] == "done"


# -------------------------------------------------------------------------------- dashboard


def test_dashboard_figures_and_csv_export(app, runtime):
    now = utcnow()
    made = now - timedelta(hours=30)
    _case(runtime, "GI-D1", created_at=made, due_at=made + timedelta(hours=2),
          closed_at=made + timedelta(hours=1), status="closed", grid_code="41061100100101")
    _case(runtime, "GI-D2", created_at=made, due_at=made + timedelta(hours=2),
          closed_at=made + timedelta(hours=5), status="closed", grid_code="41061100100101")
    _case(runtime, "GI-D3", created_at=made, channel="sms", text="=HYPERLINK(\"x\")")
    _case(runtime, "GI-OLD", created_at=now - timedelta(days=60))
    client = app.test_client()
    login(client)
    page = client.get("/admin/dashboard?days=7").text
    tiles = dict((label, value) for value, label in
                 re.findall(r'<div class="tile"><b>([^<]*)</b><span>([^<]*)</span>', page))
    assert tiles["案件 Cases"] == "3" and tiles["已结案 Closed"] == "2"
    assert tiles["结案率 Closure rate"] == "67%" and tiles["按时办结率 On time"] == "50%"
    assert tiles["办结时间中位数 Median time to close"] == "3.0 小时"
    assert "市供水公司" in page  # the department comes from the category tree
    assert "黄河路/华夏南路·黎阳路 网格" in page  # the busiest cell, by name
    assert 'class="city-map"' in page  # the map (its cells come from /admin/map/cells.geojson)
    export = client.get("/admin/dashboard/export.csv?days=7").data.decode("utf-8-sig").splitlines()
    assert len(export) == 4 and "GI-OLD" not in "\n".join(export)
    rows = {line.split(",")[0]: line for line in export[1:]}
    assert rows["GI-D1"].endswith(",yes") and rows["GI-D2"].endswith(",no")


# ------------------------------------------------------------------------------------- CLI


def test_users_add_and_token_commands(runtime, monkeypatch, capsys):
    monkeypatch.setenv("GRIDINTAKE_DATA_DIR", str(runtime.config.data_dir))
    monkeypatch.setattr("sys.stdin", io.StringIO("a long password\n"))
    assert cli(["users", "add", "ops1", "--role", "operator", "--password-stdin"]) == 0
    assert json.loads(capsys.readouterr().out) == {"user": "ops1", "role": "operator"}
    assert cli(["users", "token", "ops1"]) == 0
    token = json.loads(capsys.readouterr().out)["token"]
    with transaction(runtime.sessions) as session:
        user = session.scalar(select(User).where(User.name == "ops1"))
        assert user.api_token_hash == hashlib.sha256(token.encode()).hexdigest()
        assert user.password_hash != "a long password"
        actions = [r.action for r in session.scalars(select(AuditLog).order_by(AuditLog.id))]
    assert actions == ["user.set", "user.token"]
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert cli(["users", "add", "ops2", "--role", "operator", "--password-stdin"]) == 1
    assert cli(["users", "token", "nobody"]) == 1


def test_categories_export_and_import_commands(runtime, monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("GRIDINTAKE_DATA_DIR", str(runtime.config.data_dir))
    path = tmp_path / "tree.yaml"
    assert cli(["categories", "export", str(path)]) == 0
    data = yaml.safe_load(path.read_text("utf-8"))
    data[TARGET]["zh"].append(NEW_WORD)
    path.write_text(yaml.safe_dump(data, allow_unicode=True), "utf-8")
    capsys.readouterr()
    assert cli(["categories", "import", str(path)]) == 0
    assert json.loads(capsys.readouterr().out)["changed"] is True
    with transaction(runtime.sessions) as session:
        tree = effective_tree(session)
        assert NEW_WORD in {k.text for k in tree.get(TARGET).keywords_zh}
        assert tree.version == 1
