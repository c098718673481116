"""Pages for operators and admins: look a case up by number, phone or words; the audit log."""

from __future__ import annotations

import json
from datetime import datetime

from flask import abort, current_app, render_template, request, url_for
from sqlalchemy import or_, select

from cases.filing import CITY_TZ
from cases.serialize import case_to_json
from gateway.admin import bp
from gateway.admin.security import require, runtime
from storage.db import transaction
from storage.models import AuditLog, Case

LIST_LIMIT = 50
TRANSCRIPTS_PAGE = "transcripts.operator_page"


@bp.app_template_global("admin_transcripts_url")
def transcripts_url() -> str | None:
    """The operators' hotline transcript page, when that blueprint is installed."""
    if TRANSCRIPTS_PAGE in current_app.view_functions:
        return url_for(TRANSCRIPTS_PAGE)
    return None


@bp.app_template_filter("pretty_json")
def pretty_json(value: object) -> str:
    return "—" if value is None else json.dumps(value, ensure_ascii=False, indent=1, sort_keys=True)


@bp.app_template_filter("local_time")
def local_time(value: datetime | str | None) -> str:
    """A stored UTC time as the city's wall-clock time, to the minute."""
    if not value:
        return "—"
    when = datetime.fromisoformat(value) if isinstance(value, str) else value
    return when.astimezone(CITY_TZ).strftime("%Y-%m-%d %H:%M")


@bp.get("/cases")
@require("operator")
def cases():
    query = request.args.get("q", "").strip()[:100]
    stmt = select(Case).order_by(Case.created_at.desc()).limit(LIST_LIMIT)
    if query:
        like = f"%{query}%"
        stmt = stmt.where(or_(Case.number.like(like), Case.contact_phone.like(like), Case.text.like(like),
                              Case.place_text.like(like)))
    with transaction(runtime().sessions) as db:
        rows = [case_to_json(c, with_events=False) for c in db.scalars(stmt)]
    return render_template("admin/cases.html", rows=rows, q=query)


@bp.get("/cases/<number>")
@require("operator")
def case_detail(number: str):
    with transaction(runtime().sessions) as db:
        case = db.scalar(select(Case).where(Case.number == number))
        if case is None:
            abort(404, description=f"没有案件 {number} (no such case)")
        data = case_to_json(case)
        evidence = (case.evidence or {}).get("classification", {}).get("evidence", {})
    return render_template("admin/case.html", case=data, evidence=evidence)


@bp.get("/audit")
@require("admin")
def audit():
    with transaction(runtime().sessions) as db:
        rows = list(db.scalars(select(AuditLog).order_by(AuditLog.id.desc()).limit(200)))
    return render_template("admin/audit.html", rows=rows)
