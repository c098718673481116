"""Activating a retrained model from the admin UI / CLI: permissions, CSRF, audit, and every
running classifier (here a second Runtime standing in for another process) switching to it."""

from __future__ import annotations

import json
import re
import shutil

from sqlalchemy import select

from gateway.admin.retrain import RetrainJob
from gateway.cli import main as cli
from gateway.runtime import Runtime
from nlp import ClassifierHub
from nlp.model import default_model_dir, shared_model
from storage.catalog import active_model, set_active_model
from storage.db import transaction
from storage.models import AuditLog
from tests.support.admin import login

TEXT = "小区门口的井盖坏了，晚上很危险"


def _says_none_to_everything(out_dir, files):
    """A stand-in trainer (the real one takes minutes): the shipped model with its "none" bias
    pushed so high that it calls every message unrelated — unmistakable once active."""
    shutil.copytree(default_model_dir(), out_dir)
    calibration = out_dir / "ensemble.json"
    data = json.loads(calibration.read_text("utf-8"))
    calibration.write_text(json.dumps(data | {"none_bias": 50.0}), "utf-8")
    return {"examples": 0}


def _retrained(app, runtime) -> str:
    job = RetrainJob(runtime, trainer=_says_none_to_everything)
    app.extensions["admin_retrain"] = job
    job.start("ann")
    job.join(timeout=300)
    status = job.status()
    assert status["state"] == "done", status
    return status["result"]["model"]


def _audit(runtime, action: str) -> list[AuditLog]:
    with transaction(runtime.sessions) as session:
        rows = list(session.scalars(select(AuditLog).where(AuditLog.action == action)))
        session.expunge_all()
    return rows


def test_activate_then_roll_back_reaches_another_process(app, runtime):
    other = Runtime(runtime.config, classifier_check_s=0.0)  # another worker, already running
    before = other.classifiers.current().classify(TEXT)
    assert before.label != "none" and before.evidence["model_version"] == 0
    name = _retrained(app, runtime)
    client = app.test_client()
    token = login(client)

    page = client.get("/admin/models").text  # both models with their dev-set figures
    assert name in page and "出厂模型 shipped" in page
    new = json.loads((runtime.config.data_dir / "models" / name / "dev_figures.json").read_text())
    assert new["top1"] < 0.2 and f"{new['top1'] * 100:.1f}%" in page
    assert "启用新模型" in client.get("/admin/review").text  # offered right where retraining reports

    answer = client.post("/admin/models/activate", data={"csrf_token": token, "name": name})
    assert answer.status_code == 302
    page = client.get("/admin/models").text
    assert "已启用" in page
    shipped_row = re.search(r'<tr class="" data-model="shipped">(.*?)</tr>', page, re.S).group(1)
    assert "—" not in shipped_row and "退回出厂模型" in shipped_row  # figures to compare a rollback with
    after = other.classifiers.current().classify(TEXT)
    assert after.label == "none" and after.evidence["model_version"] == 1
    assert other.classifiers.current().model is shared_model(runtime.config.data_dir / "models" / name)
    [row] = _audit(runtime, "model.activate")
    assert (row.actor, row.before["model_version"], row.after["model_version"]) == ("ann", 0, 1)
    assert row.after["model_dir"].endswith(name)

    assert client.post("/admin/models/rollback", data={"csrf_token": token}).status_code == 302
    back = other.classifiers.current().classify(TEXT)
    assert back.label == before.label and back.evidence["model_version"] == 2
    assert other.classifiers.current().model is shared_model()
    [row] = _audit(runtime, "model.rollback")
    assert row.before["model_dir"].endswith(name) and row.after == {"model_dir": None, "model_version": 2}


def test_operator_cannot_activate_and_forms_need_the_token(app, runtime):
    name = "model-20260101-000000"
    shutil.copytree(default_model_dir(), runtime.config.data_dir / "models" / name)
    client = app.test_client()
    token = login(client, "otto")
    assert client.get("/admin/models").status_code == 403
    assert client.post("/admin/models/activate", data={"csrf_token": token, "name": name}).status_code == 403
    assert client.post("/admin/models/rollback", data={"csrf_token": token}).status_code == 403
    admin = app.test_client()
    login(admin)
    assert admin.post("/admin/models/activate", data={"name": name}).status_code == 400
    assert admin.post("/admin/models/activate", data={"name": name, "csrf_token": "x"}).status_code == 400
    with transaction(runtime.sessions) as session:
        assert active_model(session) == (0, None)
    assert _audit(runtime, "model.activate") == []


def test_only_models_in_the_data_dir_can_be_activated(app, runtime):
    client = app.test_client()
    token = login(client)
    for name in ("../../etc", "model-missing", str(default_model_dir())):
        client.post("/admin/models/activate", data={"csrf_token": token, "name": name})
        assert "未启用" in client.get("/admin/models").text
    with transaction(runtime.sessions) as session:
        assert active_model(session) == (0, None)


def test_model_commands(runtime, monkeypatch, capsys):
    monkeypatch.setenv("GRIDINTAKE_DATA_DIR", str(runtime.config.data_dir))
    name = "model-20260101-000000"
    shutil.copytree(default_model_dir(), runtime.config.data_dir / "models" / name)
    assert cli(["model", "activate", name]) == 0
    assert json.loads(capsys.readouterr().out) == {"model": name, "model_version": 1}
    assert cli(["model", "list"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert listed["model"] == name and listed["model_version"] == 1
    assert [(m["name"], m["active"]) for m in listed["models"]] == [("shipped", False), (name, True)]
    assert cli(["model", "rollback"]) == 0
    assert json.loads(capsys.readouterr().out) == {"model": "shipped", "model_version": 2}
    assert cli(["model", "activate", "nope"]) == 1
    assert [r.actor for r in _audit(runtime, "model.activate")] == ["cli"]


def test_a_failed_retraining_shows_on_every_worker(app, runtime):
    def broken(out_dir, files):
        raise RuntimeError("disk full")

    job = RetrainJob(runtime, trainer=broken)
    job.start("ann")
    job.join(timeout=60)
    client = app.test_client()  # this app's own job never ran: the failure comes from the audit log
    login(client)
    page = client.get("/admin/review").text
    assert "训练失败" in page and "disk full" in page
    [row] = _audit(runtime, "model.retrain_failed")
    assert row.actor == "ann"


def test_the_active_model_is_stored_on_both_databases(any_runtime):
    with transaction(any_runtime.sessions) as session:
        assert active_model(session) == (0, None)
        assert set_active_model(session, "/models/model-a", "ann") == 1
        assert set_active_model(session, "/models/model-b", "ann") == 2
    with transaction(any_runtime.sessions) as session:
        assert active_model(session) == (2, "/models/model-b")
        assert set_active_model(session, None, "ann") == 3
        assert active_model(session) == (3, None)


def test_a_model_that_cannot_load_keeps_the_running_one(runtime, tmp_path):
    state = {"model": (0, None)}
    hub = ClassifierHub(lambda: (0, runtime.base_tree), lambda: 0, check_every_s=0.0,
                        active_model=lambda: state["model"])
    assert hub.current().model is shared_model()
    state["model"] = (1, str(tmp_path / "gone"))
    assert hub.current().model is shared_model()
    assert hub.current().classify(TEXT).evidence["model_version"] == 0
