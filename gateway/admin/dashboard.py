"""Pages: the dashboard (charts, department table, grid map) and its CSV export."""

from __future__ import annotations

import csv
import io

from flask import Response, render_template, request
from sqlalchemy import func, select

from gateway.admin import bp
from gateway.admin.csv_safe import safe_cell
from gateway.admin.security import require, runtime
from gateway.admin.stats import cases_since, department_of, picture
from gateway.admin.svg import PALETTE, bars, stacked_columns
from storage.catalog import effective_tree
from storage.db import transaction
from storage.models import Case, Outbox
from storage.states import OutboxStatus

PERIODS = (7, 30, 90, 365)
STATUS_NAMES = {
    "accepted": "已受理 accepted", "needs_location": "待补位置 needs location", "filed": "已立案 filed",
    "dispatched": "已派遣 dispatched", "in_progress": "处置中 in progress", "handled": "已处置 handled",
    "verified": "已核查 verified", "closed": "已结案 closed", "rejected": "不予受理 rejected",
    "reopened": "重新办理 reopened", "duplicate": "重复 duplicate",
    # events that are not statuses
    "overdue": "已超期 overdue", "rated": "已评价 rated", "linked": "关联重复 linked",
    "unlinked": "取消关联 unlinked", "relabeled": "改类 relabeled",
}
CHANNEL_NAMES = {"telegram": "Telegram", "sms": "短信 SMS", "hotline": "热线 hotline",
                 "console": "控制台 console", "web": "网页 web"}


def _period() -> int:
    try:
        days = int(request.args.get("days", 30))
    except ValueError:
        days = 30
    return days if days in PERIODS else 30


def _load(days: int):
    rt = runtime()
    with transaction(rt.sessions) as db:
        tree = effective_tree(db, rt.base_tree)
        rows = cases_since(db, days)
    return tree, rows


def _picture(days: int):
    rt = runtime()
    with transaction(rt.sessions) as db:
        tree = effective_tree(db, rt.base_tree)
        return tree, picture(db, tree, days)


@bp.get("/dashboard")
@require("admin")
def dashboard():
    days = _period()
    tree, pic = _picture(days)
    names = {c.label: c.name_zh for c in tree} | {"none": "无关 none"}
    grid = runtime().geo.grid
    cell_names = {code: cell.name for code in pic.by_grid if (cell := grid.cell_by_code(code))}
    charts = {
        "by_day": stacked_columns(pic.days, {CHANNEL_NAMES.get(k, k): v for k, v in pic.by_day.items()},
                                  "每日案件 cases per day"),
        "by_channel": bars([(CHANNEL_NAMES.get(k, k), v) for k, v in pic.by_channel.most_common()],
                           "渠道 channels", color=PALETTE[1]),
        "by_label": bars([(names.get(k, k), v) for k, v in pic.by_label.most_common(12)],
                         "类别 categories"),
        "by_status": bars([(STATUS_NAMES.get(k, k), v) for k, v in pic.by_status.most_common()],
                          "状态 status", color=PALETTE[2]),
        "by_grid": bars([(cell_names.get(k) or k, v) for k, v in pic.by_grid.most_common(10)],
                        "网格 grid cells", color=PALETTE[3]),
        "departments": bars([(d["name"], round(d["closure_rate"] * 100, 1)) for d in pic.departments[:12]],
                            "结案率 closure rate", value_format="{:g}%", max_value=100,
                            color=PALETTE[2]),
    }
    return render_template("admin/dashboard.html", pic=pic, charts=charts, days=days, periods=PERIODS,
                           dead=_dead_letters())


def _dead_letters(shown: int = 20) -> dict:
    """Deliveries that gave up (platform or resident): how many, and the newest few."""
    with transaction(runtime().sessions) as db:
        where = Outbox.status == OutboxStatus.DEAD
        total = db.scalar(select(func.count(Outbox.id)).where(where))
        rows = db.execute(select(Outbox.id, Outbox.sink, Case.number, Outbox.attempts, Outbox.last_error,
                                 Outbox.created_at)
                          .outerjoin(Case, Case.id == Outbox.case_id).where(where)
                          .order_by(Outbox.id.desc()).limit(shown)).all()
    return {"total": total, "rows": rows}


@bp.get("/dashboard/export.csv")
@require("admin")
def dashboard_export():
    days = _period()
    tree, rows = _load(days)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["number", "created_at", "channel", "label", "category", "department", "status",
                     "grid_code", "urgent", "due_at", "closed_at", "on_time"])
    for r in rows:
        on_time = "" if not (r.closed_at and r.due_at) else ("yes" if r.closed_at <= r.due_at else "no")
        writer.writerow([safe_cell(v) for v in (
            r.number, r.created_at.isoformat(), r.channel, r.label, r.category_name,
            department_of(tree, r.label), r.status, r.grid_code, "yes" if r.urgent else "no",
            r.due_at.isoformat() if r.due_at else "", r.closed_at.isoformat() if r.closed_at else "",
            on_time)])
    return Response("\ufeff" + buf.getvalue(), mimetype="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f"attachment; filename=cases-{days}d.csv"})
