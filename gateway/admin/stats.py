"""The city's picture over a period: counts by channel, class, grid, status and day, and each
department's closure rate, on-time rate and median time to close."""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cases.filing import CITY_TZ
from categories import CategoryTree
from storage.models import Case, utcnow

NO_DEPARTMENT = "未指定部门 (no department)"
COLUMNS = (Case.number, Case.created_at, Case.channel, Case.label, Case.category_name, Case.status,
           Case.grid_code, Case.due_at, Case.closed_at, Case.urgent)


@dataclass
class Picture:
    days: list[str]
    by_day: dict[str, list[int]]  # channel → count per day
    by_channel: Counter = field(default_factory=Counter)
    by_label: Counter = field(default_factory=Counter)
    by_status: Counter = field(default_factory=Counter)
    by_grid: Counter = field(default_factory=Counter)
    departments: list[dict[str, Any]] = field(default_factory=list)
    total: int = 0
    closed: int = 0
    on_time: float | None = None
    median_hours: float | None = None


def cases_since(session: Session, days: int) -> list[Any]:
    start = utcnow() - timedelta(days=days)
    return list(session.execute(select(*COLUMNS).where(Case.created_at >= start)
                                .order_by(Case.created_at)).all())


def department_of(tree: CategoryTree, label: str) -> str:
    category = tree.get(label)
    return (category.department if category else "") or NO_DEPARTMENT


def _on_time(rows: list[Any]) -> float | None:
    timed = [r for r in rows if r.closed_at and r.due_at]
    return sum(r.closed_at <= r.due_at for r in timed) / len(timed) if timed else None


def _median_hours(rows: list[Any]) -> float | None:
    spans = [(r.closed_at - r.created_at).total_seconds() / 3600 for r in rows if r.closed_at]
    return statistics.median(spans) if spans else None


def picture(rows: list[Any], tree: CategoryTree, days: int, today: date | None = None) -> Picture:
    today = today or datetime.now(CITY_TZ).date()
    day_list = [(today - timedelta(days=days - 1 - i)).isoformat() for i in range(days)]
    index = {d: i for i, d in enumerate(day_list)}
    by_day: dict[str, list[int]] = defaultdict(lambda: [0] * days)
    pic = Picture(days=day_list, by_day=by_day, total=len(rows))
    per_department: dict[str, list[Any]] = defaultdict(list)
    for r in rows:
        day = r.created_at.astimezone(CITY_TZ).date().isoformat()
        if day in index:
            by_day[r.channel][index[day]] += 1
        pic.by_channel[r.channel] += 1
        pic.by_label[r.label] += 1
        pic.by_status[r.status] += 1
        if r.grid_code:
            pic.by_grid[r.grid_code] += 1
        per_department[department_of(tree, r.label)].append(r)
    pic.closed = sum(1 for r in rows if r.closed_at)
    pic.on_time = _on_time(rows)
    pic.median_hours = _median_hours(rows)
    for name, group in sorted(per_department.items(), key=lambda kv: -len(kv[1])):
        closed = sum(1 for r in group if r.closed_at)
        pic.departments.append({
            "name": name, "cases": len(group), "closed": closed,
            "closure_rate": closed / len(group), "on_time": _on_time(group),
            "median_hours": _median_hours(group),
        })
    pic.by_day = dict(by_day)
    return pic
