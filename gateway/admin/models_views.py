"""Page: trained models side by side on the dev set; activate one everywhere, or roll back."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for

from gateway.admin import bp
from gateway.admin.models import (
    SHIPPED,
    activate,
    active_figures,
    current_version,
    list_models,
    shipped_figures,
)
from gateway.admin.security import actor, require, runtime
from storage.db import transaction

FIGURES = (("top1", "首选正确率 Top-1"), ("top3", "前三命中率 Top-3"),
           ("major_top1", "大类正确率 Major top-1"), ("none_precision", "无关精确率 None precision"),
           ("none_recall", "无关召回率 None recall"))


@bp.get("/models")
@require("admin")
def models():
    rt = runtime()
    with transaction(rt.sessions) as db:
        found = list_models(db, rt)
        state = current_version(db)
    for info in found:  # the two a switch goes between, measured on the current keywords
        if info.active:
            info.figures = active_figures(rt)
        elif info.name == SHIPPED:
            info.figures = shipped_figures(rt)
    return render_template("admin/models.html", models=found, state=state, figures=FIGURES,
                           shipped=SHIPPED)


@bp.post("/models/activate")
@require("admin")
def model_activate():
    _switch(request.form.get("name", ""))
    return redirect(url_for("admin.models"))


@bp.post("/models/rollback")
@require("admin")
def model_rollback():
    _switch(SHIPPED)
    return redirect(url_for("admin.models"))


def _switch(name: str) -> None:
    rt = runtime()
    try:
        with transaction(rt.sessions) as db:
            version = activate(db, rt, name, actor())
    except ValueError as exc:
        flash(f"未启用 (not activated): {exc}", "error")
        return
    what = "出厂模型 the shipped model" if name == SHIPPED else name
    flash(f"已启用 {what}，模型版本 v{version}；所有分类器几秒内自动切换 "
          f"(activated; running classifiers switch within seconds)", "ok")
