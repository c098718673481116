"""Page: run a labelled set against the current keywords and, side by side, an earlier version."""

from __future__ import annotations

from flask import flash, render_template, request

from categories import CategoryTree
from gateway.admin import bp
from gateway.admin.catalog import previous_tree
from gateway.admin.current import current_classifier
from gateway.admin.measure import (
    DataError,
    changed_messages,
    check_labels,
    dev_set_path,
    measure,
    read_records,
    worst_labels,
)
from gateway.admin.security import require, runtime
from gateway.admin.svg import heatmap
from nlp import Classifier
from storage.db import transaction

BASELINES = {"previous": "上一次修改之前 (before the last change)",
             "shipped": "出厂词表 (shipped keywords)", "none": "不对比 (no comparison)"}
FIGURES = (("top1", "首选正确率 Top-1"), ("top3", "前三命中率 Top-3"),
           ("major_top1", "大类正确率 Major top-1"), ("none_precision", "无关消息精确率 None precision"),
           ("none_recall", "无关消息召回率 None recall"), ("ms_per_text", "每条耗时 ms/text"))


def _baseline(choice: str) -> tuple[CategoryTree | None, str]:
    rt = runtime()
    if choice == "shipped":
        return rt.base_tree, BASELINES["shipped"]
    if choice == "previous":
        with transaction(rt.sessions) as db:
            found = previous_tree(db, rt.base_tree)
        if found is None:
            return None, "还没有修改记录 (no change recorded yet)"
        tree, entry = found
        when = entry.created_at.strftime("%Y-%m-%d %H:%M")
        return tree, f"{entry.target} 于 {when} 由 {entry.actor} 修改之前 (before that change)"
    return None, ""


def _records():
    upload = request.files.get("file")
    if upload is not None and upload.filename:
        return upload.filename, read_records(upload.filename, upload.read().decode("utf-8-sig"))
    path = dev_set_path()
    return "内置开发集 built-in dev set", read_records(path.name, path.read_text("utf-8"))


def _perfect(row: dict) -> bool:
    """Every message of the class right, nothing else called by its name, and as before."""
    now, was = row["now"], row["was"]
    return now.get("precision") == 1 and now.get("recall") == 1 and (not was or was == now)


@bp.route("/evaluate", methods=["GET", "POST"])
@require("admin")
def evaluate_page():
    if request.method == "GET":
        return render_template("admin/evaluate.html", report=None, baselines=BASELINES,
                               choice="previous")
    choice = request.form.get("baseline", "previous")
    classifier = current_classifier()
    try:
        source, records = _records()
        check_labels(records, classifier.tree)
    except (DataError, UnicodeDecodeError) as exc:
        flash(f"无法读取数据 (cannot read the set): {exc}", "error")
        return render_template("admin/evaluate.html", report=None, baselines=BASELINES,
                               choice=choice), 400
    names = {c.label: c.name_zh for c in classifier.tree} | {"none": "无关 none"}
    new = measure(classifier, records)
    base_tree, base_name = _baseline(choice)
    old = (measure(Classifier(base_tree, model=classifier.model), records)  # same model: keywords compared
           if base_tree is not None else None)
    fixed, broken = changed_messages(records, new, old) if old else ([], [])
    rows = []
    for label in sorted(set(new.per_class) | set(old.per_class if old else ())):
        now = new.per_class.get(label, {})
        was = old.per_class.get(label, {}) if old else {}
        rows.append({"label": label, "name": names.get(label, label), "now": now, "was": was})
    rows.sort(key=lambda r: (r["now"].get("recall") if r["now"].get("recall") is not None else 2,
                             r["label"]))
    perfect = [r for r in rows if _perfect(r)]
    rows = [r for r in rows if not _perfect(r)]
    labels = worst_labels(new)
    report = {
        "source": source, "n": len(records), "version": classifier.version,
        "figures": FIGURES, "new": new.figures, "old": old.figures if old else None,
        "baseline_name": base_name, "rows": rows, "perfect": perfect, "fixed": fixed, "broken": broken,
        "heatmap": heatmap(labels, new.confusion, names, "混淆热力图 confusion heatmap"),
        "names": names,
    }
    return render_template("admin/evaluate.html", report=report, baselines=BASELINES, choice=choice)
