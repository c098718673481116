"""Pages for operators and admins: look a case up by number, phone or words; the audit log."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import datetime

from flask import Response, abort, current_app, render_template, request, stream_with_context, url_for
from sqlalchemy import select

from cases.filing import CITY_TZ
from cases.serialize import case_to_json
from gateway.admin import bp
from gateway.admin.case_filters import BadFilter, CaseFilter
from gateway.admin.csv_safe import safe_cell
from gateway.admin.dashboard import CHANNEL_NAMES, STATUS_NAMES
from gateway.admin.security import require, runtime
from storage.db import transaction
from storage.models import AuditLog, Case
from storage.states import CaseStatus

PAGE_SIZE = 50
MAX_PAGE = 10_000
EXPORT_CHUNK = 1000
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


def _filter() -> CaseFilter:
    try:
        return CaseFilter.from_args(request.args)
    except BadFilter as exc:
        abort(400, description=str(exc))


def _page() -> int:
    try:
        return max(1, min(int(request.args.get("page", 1)), MAX_PAGE))
    except ValueError:
        return 1


def _choices() -> dict[str, list[str]]:
    """The filter form's options: the city's districts, streets and communities, and channels."""
    cells = getattr(runtime().geo.grid, "cells", [])
    return {
        "district": sorted({c.district for c in cells if c.district}),
        "street": sorted({c.street for c in cells if c.street}),
        "community": sorted({c.community for c in cells if c.community}),
        "channel": list(CHANNEL_NAMES),
        "status": [s.value for s in CaseStatus],
    }


@bp.get("/cases")
@require("operator")
def cases():
    """The filtered list, newest first, a page at a time (one row more tells if there is a next)."""
    wanted, page = _filter(), _page()
    stmt = (select(Case).where(*wanted.conditions()).order_by(Case.created_at.desc(), Case.id.desc())
            .offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE + 1))
    with transaction(runtime().sessions) as db:
        rows = [case_to_json(c, with_events=False) for c in db.scalars(stmt)]
    more = len(rows) > PAGE_SIZE
    return render_template("admin/cases.html", rows=rows[:PAGE_SIZE], f=wanted, page=page, more=more,
                           choices=_choices(), status_names=STATUS_NAMES, channel_names=CHANNEL_NAMES)


EXPORT_COLUMNS = ("number", "created_at", "channel", "label", "category_name", "status", "grid_code",
                  "district", "street", "community", "place_text", "overdue", "due_at", "closed_at",
                  "rating", "text")


def _export_rows(wanted: CaseFilter) -> Iterator[str]:
    """The CSV a chunk at a time, from one read-only transaction, so a big export stays small."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(EXPORT_COLUMNS)
    columns = [getattr(Case, name) for name in EXPORT_COLUMNS]
    stmt = (select(*columns).where(*wanted.conditions()).order_by(Case.created_at.desc(), Case.id.desc())
            .execution_options(yield_per=EXPORT_CHUNK))
    yield "\ufeff"
    with transaction(runtime().sessions) as db:
        for n, row in enumerate(db.execute(stmt), start=1):
            writer.writerow([safe_cell(v.isoformat() if isinstance(v, datetime) else v) for v in row])
            if n % EXPORT_CHUNK == 0:
                yield buf.getvalue()
                buf.seek(0)
                buf.truncate()
    yield buf.getvalue()


@bp.get("/cases/export.csv")
@require("operator")
def cases_export():
    wanted = _filter()
    return Response(stream_with_context(_export_rows(wanted)), mimetype="text/csv; charset=utf-8",
                    headers={"Content-Disposition": "attachment; filename=cases.csv"})


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
