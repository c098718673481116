"""The city's picture over a period: counts by channel, class, grid, status and day, and each
department's closure rate, on-time rate and median time to close.

Every figure is an aggregate computed by the database (GROUP BY, and a window for the medians):
a year of a city's cases is never pulled into the worker."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from cases.filing import CITY_TZ
from categories import CategoryTree
from storage.models import Case, utcnow

NO_DEPARTMENT = "未指定部门 (no department)"
COLUMNS = (Case.number, Case.created_at, Case.channel, Case.label, Case.category_name, Case.status,
           Case.grid_code, Case.due_at, Case.closed_at, Case.urgent)
CITY_OFFSET = "+8 hours"  # Asia/Shanghai keeps no summer time


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
    """The period's rows, for the CSV export (a download, not a page)."""
    return list(session.execute(select(*COLUMNS).where(Case.created_at >= _start(days))
                                .order_by(Case.created_at)).all())


def department_of(tree: CategoryTree, label: str) -> str:
    category = tree.get(label)
    return (category.department if category else "") or NO_DEPARTMENT


def _start(days: int) -> datetime:
    return utcnow() - timedelta(days=days)


def _city_day(session: Session) -> ColumnElement:
    if session.get_bind().dialect.name == "postgresql":
        return func.to_char(func.timezone(str(CITY_TZ), Case.created_at), "YYYY-MM-DD")
    return func.date(Case.created_at, CITY_OFFSET)


def _hours_to_close(session: Session) -> ColumnElement:
    if session.get_bind().dialect.name == "postgresql":
        return func.extract("epoch", Case.closed_at - Case.created_at) / 3600.0
    return (func.julianday(Case.closed_at) - func.julianday(Case.created_at)) * 24.0


def _medians(session: Session, start: datetime,
             group: ColumnElement | None = None) -> dict[str | None, float]:
    """The median hours to close per `group` value (all closed cases under None): the middle
    row, or the mean of the two middle rows, of each group's sorted spans, found by a window,
    as statistics.median does."""
    hours = _hours_to_close(session)
    key = group.label("grp") if group is not None else None
    spans = (select(*([key] if key is not None else []), hours.label("hours"),
                    func.row_number().over(partition_by=group, order_by=hours).label("rank"),
                    func.count().over(partition_by=group).label("n"))
             .where(Case.created_at >= start, Case.closed_at.is_not(None)).subquery())
    middle = spans.c.rank.between((spans.c.n + 1) // 2, (spans.c.n + 2) // 2)
    if group is None:
        value = session.scalar(select(func.avg(spans.c.hours)).where(middle))
        return {} if value is None else {None: float(value)}
    return {grp: float(value) for grp, value in session.execute(
        select(spans.c.grp, func.avg(spans.c.hours)).where(middle).group_by(spans.c.grp))}


def _ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def picture(session: Session, tree: CategoryTree, days: int, today: date | None = None) -> Picture:
    today = today or datetime.now(CITY_TZ).date()
    start = _start(days)
    in_period = Case.created_at >= start
    day_list = [(today - timedelta(days=days - 1 - i)).isoformat() for i in range(days)]
    index = {d: i for i, d in enumerate(day_list)}
    by_day: dict[str, list[int]] = defaultdict(lambda: [0] * days)
    pic = Picture(days=day_list, by_day=by_day)

    day = _city_day(session)
    for day_value, channel, n in session.execute(
            select(day, Case.channel, func.count()).where(in_period).group_by(day, Case.channel)):
        if str(day_value) in index:
            by_day[channel][index[str(day_value)]] += n
        pic.by_channel[channel] += n
        pic.total += n

    timed = Case.closed_at.is_not(None) & Case.due_at.is_not(None)
    per_department: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])  # cases closed timed on_time
    for label, status, n, closed, n_timed, on_time in session.execute(
            select(Case.label, Case.status, func.count(), func.count(Case.closed_at),
                   func.sum(case((timed, 1), else_=0)),
                   func.sum(case((timed & (Case.closed_at <= Case.due_at), 1), else_=0)))
            .where(in_period).group_by(Case.label, Case.status)):
        pic.by_label[label] += n
        pic.by_status[status] += n
        sums = per_department[department_of(tree, label)]
        for i, value in enumerate((n, closed, n_timed or 0, on_time or 0)):
            sums[i] += value

    pic.by_grid.update(dict(session.execute(
        select(Case.grid_code, func.count()).where(in_period, Case.grid_code.is_not(None))
        .group_by(Case.grid_code)).all()))

    labels = {c.label: department_of(tree, c.label) for c in tree}
    department = case(labels, value=Case.label, else_=NO_DEPARTMENT)
    medians = _medians(session, start, department)
    pic.median_hours = _medians(session, start).get(None)
    totals = [sum(s[i] for s in per_department.values()) for i in range(4)]
    pic.closed = totals[1]
    pic.on_time = _ratio(totals[3], totals[2])
    for name, (n, closed, n_timed, on_time) in sorted(per_department.items(), key=lambda kv: -kv[1][0]):
        pic.departments.append({
            "name": name, "cases": n, "closed": closed, "closure_rate": closed / n,
            "on_time": _ratio(on_time, n_timed), "median_hours": medians.get(name),
        })
    pic.by_day = dict(by_day)
    return pic
