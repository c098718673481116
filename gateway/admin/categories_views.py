"""Pages: browse the tree with case counts, edit one class, import/export the whole tree."""

from __future__ import annotations

from collections import defaultdict

from flask import Response, abort, flash, redirect, render_template, request, url_for
from sqlalchemy import func, select

from categories.tree import CategoryError
from gateway.admin import bp
from gateway.admin.catalog import (
    MAX_IMPORT_BYTES,
    conflicts,
    export_csv,
    export_yaml,
    keyword_lines,
    parse_import,
    parse_keywords,
    save_classes,
)
from gateway.admin.security import actor, require, runtime
from storage.catalog import effective_tree
from storage.db import transaction
from storage.models import Case

KIND_NAMES = {"component": "部件 Components", "event": "事件 Events"}


def _tree_and_counts():
    rt = runtime()
    with transaction(rt.sessions) as db:
        tree = effective_tree(db, rt.base_tree)
        counts = dict(db.execute(select(Case.label, func.count()).group_by(Case.label)).all())
    return tree, counts


@bp.get("/categories")
@require("admin")
def categories():
    tree, counts = _tree_and_counts()
    query = request.args.get("q", "").strip().casefold()
    groups: dict[str, dict[tuple[str, str], list]] = {k: defaultdict(list) for k in KIND_NAMES}
    for cat in tree:
        words = [k.text for k in cat.keywords()]
        haystack = " ".join([cat.label, cat.name_zh, cat.name_en, cat.department, *words]).casefold()
        if query and query not in haystack:
            continue
        groups[cat.kind][(cat.major, cat.major_name_zh)].append(cat)
    return render_template(
        "admin/categories.html", groups=groups, kind_names=KIND_NAMES, counts=counts,
        version=tree.version, conflicts=conflicts(tree), q=request.args.get("q", ""),
        names={c.label: f"{c.name_zh} ({c.label})" for c in tree},
    )


@bp.route("/categories/<label>", methods=["GET", "POST"])
@require("admin")
def category_edit(label: str):
    rt = runtime()
    tree, counts = _tree_and_counts()
    cat = tree.get(label)
    if cat is None:
        abort(404, description=f"没有这个类别 (no class {label})")
    if request.method == "POST":
        form = request.form
        try:
            fields = {
                "name_zh": form.get("name_zh", "").strip(),
                "name_en": form.get("name_en", "").strip(),
                "department": form.get("department", "").strip(),
                "time_limit_hours": form.get("time_limit_hours", "").strip() or None,
                "zh": parse_keywords(form.get("zh", "")),
                "en": parse_keywords(form.get("en", "")),
                "negative": [w.strip() for w in form.get("negative", "").splitlines() if w.strip()],
                "enabled": form.get("enabled") == "on",
                "urgent": form.get("urgent") == "on",
            }
            if not fields["name_zh"]:
                raise CategoryError("中文名称不能为空 (the Chinese name is required)")
            with transaction(rt.sessions) as db:
                version = save_classes(db, rt.base_tree, {label: fields}, actor(), "category.update")
        except CategoryError as exc:
            flash(f"未保存 (not saved): {exc}", "error")
            return render_template("admin/category_edit.html", cat=cat, data=request.form,
                                   count=counts.get(label, 0), shared={}, tree=tree), 400
        if version is None:
            flash("没有改动 (nothing changed)", "info")
        else:
            flash(f"已保存，关键词版本 v{version}；分类器几秒内自动生效 "
                  f"(saved, keyword version {version}: classifiers pick it up within seconds)", "ok")
        return redirect(url_for("admin.category_edit", label=label))
    data = tree.as_overrides(label)
    form = {**data, "zh": keyword_lines(data["zh"]), "en": keyword_lines(data["en"]),
            "negative": "\n".join(data["negative"]),
            "time_limit_hours": "" if data["time_limit_hours"] is None else f"{data['time_limit_hours']:g}"}
    mine = {k.text.casefold() for k in cat.keywords()}
    shared = {w: [lb for lb in labels if lb != label] for w, labels in conflicts(tree).items()
              if w in mine}
    return render_template("admin/category_edit.html", cat=cat, data=form,
                           count=counts.get(label, 0), shared=shared, tree=tree)


@bp.get("/categories/export.<fmt>")
@require("admin")
def categories_export(fmt: str):
    tree, _ = _tree_and_counts()
    if fmt == "csv":
        body, mime = "\ufeff" + export_csv(tree), "text/csv; charset=utf-8"
    elif fmt == "yaml":
        body, mime = export_yaml(tree), "application/yaml; charset=utf-8"
    else:
        abort(404)
    return Response(body, mimetype=mime, headers={
        "Content-Disposition": f"attachment; filename=categories-v{tree.version}.{fmt}"})


@bp.post("/categories/import")
@require("admin")
def categories_import():
    rt = runtime()
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        flash("请选择一个 CSV 或 YAML 文件 (choose a CSV or YAML file)", "error")
        return redirect(url_for("admin.categories"))
    data = upload.read(MAX_IMPORT_BYTES + 1)
    if len(data) > MAX_IMPORT_BYTES:
        flash("导入失败：文件超过 1 MB (import failed: the file is over 1 MB)", "error")
        return redirect(url_for("admin.categories"))
    try:
        changes = parse_import(upload.filename, data.decode("utf-8-sig"))
        with transaction(rt.sessions) as db:
            version = save_classes(db, rt.base_tree, changes, actor(), "category.import")
    except (CategoryError, UnicodeDecodeError, ValueError) as exc:
        flash(f"导入失败，没有任何改动 (import failed, nothing changed): {exc}", "error")
        return redirect(url_for("admin.categories"))
    if version is None:
        flash("文件与当前词表相同 (the file matches the current tree)", "info")
    else:
        flash(f"已导入，关键词版本 v{version} (imported, keyword version {version})", "ok")
    return redirect(url_for("admin.categories"))
