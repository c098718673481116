"""Page: type a resident's message and see the ranked classes, the evidence, the place and grid."""

from __future__ import annotations

from flask import render_template, request

from gateway.admin import bp
from gateway.admin.current import current_classifier
from gateway.admin.security import require, runtime
from gateway.admin.svg import bars

MAX_CHARS = 2000


@bp.route("/try", methods=["GET", "POST"])
@require("admin")
def try_text():
    text = (request.form.get("text") or request.args.get("text") or "").strip()[:MAX_CHARS]
    if not text:
        return render_template("admin/try.html", text="", result=None)
    classifier = current_classifier()
    result = classifier.classify(text)
    tree = classifier.tree
    names = {c.label: c.name_zh for c in tree}
    names["none"] = "不属于城市管理 (none)"
    chart = bars([(f"{names.get(s.label, s.label)}", round(s.score * 100, 1)) for s in result.top],
                 "候选类别 ranked classes", value_format="{:g}%", max_value=100)
    place = runtime().geo.geocode(result.place_text or text)
    category = tree.get(result.label)
    return render_template("admin/try.html", text=text, result=result, chart=chart, names=names,
                           place=place, category=category, version=tree.version)
