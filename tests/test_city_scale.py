"""City scale (issue 21): the dashboard's figures come from SQL on both backends, the overdue
sweep commits in bounded batches, and on PostgreSQL the hot queries can use their indexes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event, func, insert, select, text

from bot.handlers.sms.rules import phone_opted_out
from cases.filing import CITY_TZ
from cases.overdue import mark_overdue, sweep_overdue
from gateway.admin.review import queue_filter
from gateway.admin.stats import picture
from gateway.forwarding import platform_for
from gateway.forwarding.worker import Worker
from storage.db import transaction
from storage.models import Case, CaseEvent, Reporter, utcnow
from tests.conftest import make_runtime

LABEL = "component:0101"  # 上水井盖, department 市供水公司


def _cases(runtime, rows: list[dict]) -> None:
    base = {"label": LABEL, "text": "井盖丢了", "channel": "telegram", "status": "accepted",
            "evidence": {}, "category_name": "上水井盖", "confidence": 0.9, "urgent": False,
            "language": "zh", "needs_review": False, "overdue": False, "corrected": False}
    now = utcnow()
    with transaction(runtime.sessions) as session:
        session.execute(insert(Case), [{**base, "created_at": now, "updated_at": now, **r}
                                       for r in rows])


def test_dashboard_figures_are_aggregated_by_the_database(any_runtime):
    now = utcnow()
    made = now - timedelta(hours=30)
    spans = [1, 5, 2]  # hours to close: median 2 for the class, 3.5 for the even pair below
    rows = [{"number": f"GI-C{i}", "created_at": made, "closed_at": made + timedelta(hours=h),
             "due_at": made + timedelta(hours=3), "status": "closed", "grid_code": "41061100100101"}
            for i, h in enumerate(spans)]
    rows += [{"number": "GI-O1", "label": "event:0101", "channel": "sms", "created_at": made,
              "closed_at": made + timedelta(hours=4), "status": "closed"},
             {"number": "GI-O2", "label": "event:0101", "channel": "sms", "created_at": made},
             {"number": "GI-OLD", "created_at": now - timedelta(days=60)}]
    _cases(any_runtime, rows)
    tree = any_runtime.tree()
    with transaction(any_runtime.sessions) as session:
        pic = picture(session, tree, 7)
    assert pic.total == 5 and pic.closed == 4
    assert pic.on_time == pytest.approx(2 / 3)  # of the three with a due time, two were on time
    assert pic.median_hours == pytest.approx(3.0)  # spans 1, 2, 4, 5
    assert pic.by_channel == {"telegram": 3, "sms": 2}
    assert pic.by_label == {LABEL: 3, "event:0101": 2}
    assert pic.by_status == {"closed": 4, "accepted": 1}
    assert pic.by_grid == {"41061100100101": 3}
    day = made.astimezone(CITY_TZ).date().isoformat()
    assert pic.by_day["telegram"][pic.days.index(day)] == 3 and sum(pic.by_day["sms"]) == 2
    water = next(d for d in pic.departments if d["name"] == "市供水公司")
    assert (water["cases"], water["closed"], water["median_hours"]) == (3, 3, pytest.approx(2.0))
    other = next(d for d in pic.departments if d["name"] != "市供水公司")
    assert (other["cases"], other["closed"], other["on_time"]) == (2, 1, None)
    assert other["median_hours"] == pytest.approx(4.0)


def test_a_case_filed_just_after_city_midnight_counts_on_the_city_day(any_runtime):
    city_midnight = datetime.now(CITY_TZ).replace(hour=0, minute=5, second=0, microsecond=0)
    _cases(any_runtime, [{"number": "GI-M1", "created_at": city_midnight.astimezone(UTC)}])
    with transaction(any_runtime.sessions) as session:
        pic = picture(session, any_runtime.tree(), 7)
    # 00:05 in the city is 16:05 UTC the day before: counted on the city's date.
    assert pic.by_day["telegram"][pic.days.index(city_midnight.date().isoformat())] == 1


def test_the_overdue_sweep_commits_at_most_a_batch_at_a_time(any_runtime):
    late = utcnow() - timedelta(hours=1)
    _cases(any_runtime, [{"number": f"GI-L{i}", "due_at": late} for i in range(25)]
           + [{"number": "GI-DONE", "due_at": late, "status": "closed"},
              {"number": "GI-FUTURE", "due_at": utcnow() + timedelta(hours=5)}])
    commits: list[int] = []
    flagged_before = [0]

    def count(_session) -> None:
        with any_runtime.db.connect() as conn:
            flagged = conn.scalar(select(func.count()).select_from(Case).where(Case.overdue.is_(True)))
        commits.append(flagged - flagged_before[0])
        flagged_before[0] = flagged

    event.listen(any_runtime.sessions, "after_commit", count)
    try:
        numbers = sweep_overdue(any_runtime.sessions, platform_for(any_runtime), batch=10)
    finally:
        event.remove(any_runtime.sessions, "after_commit", count)
    assert sorted(numbers) == sorted(f"GI-L{i}" for i in range(25))
    assert commits == [10, 10, 5]
    with transaction(any_runtime.sessions) as session:
        assert session.scalar(select(func.count()).select_from(CaseEvent)
                              .where(CaseEvent.status == "overdue")) == 25
        assert mark_overdue(session, platform_for(any_runtime)) == []


# ----------------------------------------------------------------- PostgreSQL: index use


def _plans(runtime, session, call) -> str:
    """EXPLAIN, in `session`, every statement `call` sends, exactly as the driver got it."""
    sent: list[tuple] = []
    listen = lambda conn, cursor, sql, values, *_: sent.append((sql, values))  # noqa: E731
    event.listen(runtime.db, "before_cursor_execute", listen)
    try:
        call()
    finally:
        event.remove(runtime.db, "before_cursor_execute", listen)
    cursor = session.connection().connection.cursor()
    plans = []
    for sql, values in sent:
        if sql.lstrip().upper().startswith(("SELECT", "UPDATE", "WITH")):
            cursor.execute("EXPLAIN " + sql, values)
            plans += [line for (line,) in cursor.fetchall()]
    return "\n".join(plans)


@pytest.mark.postgres
def test_hot_queries_can_use_their_indexes_on_postgres(tmp_path, postgres_url):
    runtime = make_runtime(tmp_path / "var", postgres_url)
    worker = Worker(runtime)
    try:
        with transaction(runtime.sessions) as session:
            # The tables are nearly empty, so a sequential scan would win on cost: switch it off
            # to see whether each query's predicate lets the planner use its index at all.
            session.execute(text("SET LOCAL enable_seqscan = off"))
            claim = _plans(runtime, session, worker.claim)
            assert "Index Scan using ix_outbox_pending" in claim
            with transaction(runtime.sessions) as other:
                overdue = _plans(runtime, session,
                                 lambda: mark_overdue(other, platform_for(runtime)))
            assert "ix_case_open_due" in overdue
            review = _plans(runtime, session, lambda: session.scalar(
                select(func.count()).select_from(Case).where(queue_filter())))
            assert "ix_case_review" in review
            linked = _plans(runtime, session, lambda: session.scalars(
                select(Case.id).where(Case.duplicate_of_id == 7)).all())
            assert "ix_case_duplicate_of" in linked
            mine = _plans(runtime, session, lambda: session.scalars(
                select(Case.id).where(Case.reporter_id == 3).order_by(Case.id.desc()).limit(5)).all())
            assert "ix_case_reporter_id" in mine
        with transaction(runtime.sessions) as session:
            # A few thousand reporters and fresh statistics: the planner's own choice.
            session.execute(insert(Reporter), [
                {"channel": "sms", "channel_user_id": f"+86138{i:08d}", "phone": f"+86138{i:08d}",
                 "language": "zh", "consent_contact": True, "unreachable": i == 0,
                 "created_at": utcnow()} for i in range(5000)])
            session.execute(text("ANALYZE reporter"))
            assert phone_opted_out(session, "+8613800000000")
            answers: list[bool] = []
            plan = _plans(runtime, session,
                          lambda: answers.append(phone_opted_out(session, "+8613800000001")))
        assert answers == [False]
        assert "ix_reporter_phone" in plan and "Seq Scan" not in plan
    finally:
        worker.close()
        runtime.db.dispose()
