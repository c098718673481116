"""Pages: the review queue (confirm or relabel) and the background retraining."""

from __future__ import annotations

from flask import abort, current_app, flash, jsonify, redirect, render_template, request, url_for
from sqlalchemy import func, select

from gateway.admin import bp
from gateway.admin.retrain import RetrainJob
from gateway.admin.review import decide, machine_label, queue, queue_filter, resident_override
from gateway.admin.security import actor, require, runtime
from gateway.forwarding import platform_for
from storage.catalog import effective_tree
from storage.db import transaction
from storage.models import Case, TrainingExample


def retrain_job() -> RetrainJob:
    ext = current_app.extensions
    if "admin_retrain" not in ext:
        ext["admin_retrain"] = RetrainJob(runtime())
    return ext["admin_retrain"]


@bp.get("/review")
@require("admin")
def review():
    rt = runtime()
    with transaction(rt.sessions) as db:
        tree = effective_tree(db, rt.base_tree)
        cases = queue(db)
        total = db.scalar(select(func.count()).select_from(Case).where(queue_filter()))
        examples = db.scalar(select(func.count()).select_from(TrainingExample))
        job = retrain_job().shown(db)
        items = [{
            "case": c, "override": resident_override(c), "machine": machine_label(c),
            "top": ((c.evidence or {}).get("classification") or {}).get("top", [])[:3],
        } for c in cases]
    names = {c.label: c.name_zh for c in tree} | {"none": "无关 none"}
    choices: dict[str, list[tuple[str, str]]] = {}
    for c in tree.enabled():
        group = f"{'部件' if c.kind == 'component' else '事件'} · {c.major_name_zh}"
        choices.setdefault(group, []).append((c.label, f"{c.name_zh} {c.name_en} ({c.label})"))
    choices["其他 Other"] = [("none", "不属于城市管理 none")]
    return render_template("admin/review.html", items=items, total=total, names=names,
                           choices=choices, examples=examples, job=job)


@bp.post("/review/<int:case_id>")
@require("admin")
def review_decide(case_id: int):
    rt = runtime()
    label = request.form.get("label", "")
    with transaction(rt.sessions) as db:
        case = db.get(Case, case_id)
        if case is None:
            abort(404, description="没有这个案件 (no such case)")
        if request.form.get("action") == "confirm":
            label = case.label
        tree = effective_tree(db, rt.base_tree)
        try:
            learned = decide(db, tree, case, label, actor(), platform_for(rt))
        except ValueError as exc:
            abort(400, description=str(exc))
        number = case.number
    note = "，已加入训练样本 (added as a training example)" if learned else ""
    flash(f"案件 {number} 已处理{note} (case reviewed)", "ok")
    return redirect(url_for("admin.review"))


@bp.post("/retrain")
@require("admin")
def retrain_start():
    if retrain_job().start(actor()):
        flash("已开始重新训练，完成后这里会显示新的成绩 (retraining started)", "ok")
    else:
        flash("已有一次训练在进行 (a retraining is already running)", "info")
    return redirect(url_for("admin.review"))


@bp.get("/retrain/status")
@require("admin")
def retrain_status():
    with transaction(runtime().sessions) as db:
        return jsonify(retrain_job().shown(db))
