"""City scale: load N cases (default 1,000,000) with their inbound messages, events and
outbox rows into a fresh PostgreSQL schema by multi-row INSERT … SELECT generate_series, then
time the hot reads against the same reads on an empty schema, measured in the same run, and
print their EXPLAIN plans.

Reads: the dashboard's aggregates for 7/30/90/365 days (gateway/admin/stats.picture), the
review queue's count, a filtered case list page, a reporter's cases, the outbox claim and
the overdue sweep's candidate query. Each is run `--repeat` times; p95 in ms and the ratio
loaded/empty are printed.

    python bench/scale.py --cases 100000
"""

from __future__ import annotations

import argparse
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.orm import Session

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from categories import load_tree  # noqa: E402
from gateway.admin.review import queue_filter  # noqa: E402
from gateway.admin.stats import picture  # noqa: E402
from storage.db import make_engine  # noqa: E402
from storage.migrate import upgrade  # noqa: E402
from storage.models import OPEN_DUE, Case, utcnow  # noqa: E402

PG_SERVER = "postgresql+psycopg2://postgres@127.0.0.1:5432/test"
DAYS = 60  # the loaded history spans this many days, as in the measurement

LOAD = [
    """INSERT INTO reporter (channel, channel_user_id, phone, language, consent_contact,
                             unreachable, created_at)
       SELECT 'sms', '+86138' || lpad(g::text, 8, '0'), '+86138' || lpad(g::text, 8, '0'), 'zh',
              true, false, now() FROM generate_series(1, :reporters) g""",
    """INSERT INTO "case" (number, label, kind, major, minor, category_name, confidence, urgent,
                          text, lat, lon, grid_code, district, status, channel, language,
                          reporter_id, evidence, needs_review, corrected, due_at, overdue,
                          created_at, updated_at, closed_at)
       SELECT 'GI-B-' || g, (ARRAY['component:0101','event:0101','component:0102','event:0201'])[1 + g % 4],
              'component', '01', '0101', '上水井盖', 0.3 + (g % 70) / 100.0, false,
              '淇滨大道与九州路交叉口的井盖坏了', 35.70 + (g % 1000) / 10000.0,
              114.25 + (g % 997) / 10000.0, '410611001001' || lpad((g % 85)::text, 2, '0'), '淇滨区',
              CASE WHEN g % 10 < 7 THEN 'closed' WHEN g % 10 = 7 THEN 'dispatched' ELSE 'accepted' END,
              (ARRAY['sms','telegram','hotline'])[1 + g % 3], 'zh', 1 + g % :reporters,
              '{"classification": {"label": "component:0101", "top": []}}'::jsonb,
              g % 50 = 0, false, t + interval '72 hours', g % 10 >= 8 AND t < now() - interval '3 days',
              t, t, CASE WHEN g % 10 < 7 THEN t + (g % 96) * interval '1 hour' END
       FROM (SELECT g, now() - (g::float / :n) * interval '1 day' * :days AS t
             FROM generate_series(1, :n) g) s""",
    """INSERT INTO case_event (case_id, status, actor, data, created_at)
       SELECT id, s, 'system', '{}'::jsonb, created_at
       FROM "case", unnest(ARRAY['accepted', 'dispatched', 'closed']) s""",
    """INSERT INTO inbound_message (channel, idempotency_key, sender, reporter_id, kind, text,
                                   payload, status, replies, received_at, processed_at)
       SELECT 'sms', 'SM' || c.id || '-' || k, '+86138' || lpad(c.reporter_id::text, 8, '0'),
              c.reporter_id, 'text', c.text, '{}'::jsonb, 'processed', '[]'::jsonb, c.created_at,
              c.created_at
       FROM "case" c, generate_series(1, 3) k""",
    """INSERT INTO outbox (sink, target, case_id, payload, idempotency_key, status, attempts,
                          next_attempt_at, created_at, delivered_at)
       SELECT sink, NULL, id, '{"type": "case.created"}'::jsonb, sink || ':case:' || number,
              'done', 1, created_at, created_at, created_at
       FROM "case", unnest(ARRAY['webhook', 'sms']) sink""",
]


def schema(engine_admin) -> str:
    name = f"bench_{uuid.uuid4().hex[:8]}"
    with engine_admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{name}"'))
    url = f"{PG_SERVER}?options=-csearch_path%3D{name}"
    upgrade(url)
    return name


def reads(tree) -> dict:
    now = utcnow()

    def dashboard(days):
        return lambda s: picture(s, tree, days)

    return {
        **{f"dashboard {d} d": dashboard(d) for d in (7, 30, 90, 365)},
        "review count": lambda s: s.scalar(sa.select(sa.func.count()).select_from(Case)
                                           .where(queue_filter())),
        "case list: grid+status, page 1": lambda s: s.scalars(
            sa.select(Case).where(Case.grid_code == "41061100100107", Case.status == "accepted")
            .order_by(Case.id.desc()).limit(50)).all(),
        "a reporter's cases": lambda s: s.scalars(
            sa.select(Case.number).where(Case.reporter_id == 17).order_by(Case.id.desc()).limit(5)).all(),
        "case search, no hit": lambda s: s.scalar(sa.select(Case.id).where(Case.number == "GI-NONE")),
        "outbox claim": lambda s: s.scalars(
            sa.select(sa.text("id")).select_from(sa.table("outbox"))
            .where(sa.text("status = 'pending' AND next_attempt_at <= now()"))
            .order_by(sa.text("next_attempt_at, id")).limit(20)).all(),
        "overdue candidates": lambda s: s.scalars(
            sa.select(Case.id).where(sa.text(OPEN_DUE), Case.due_at < now)
            .order_by(Case.due_at).limit(1000)).all(),
    }


def time_reads(engine, tree, repeat: int) -> dict[str, float]:
    out = {}
    for name, job in reads(tree).items():
        times = []
        for _ in range(repeat):
            with Session(engine) as session:
                started = time.perf_counter()
                job(session)
                times.append((time.perf_counter() - started) * 1000)
        times.sort()
        out[name] = times[min(len(times) - 1, int(0.95 * len(times)))]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--keep", action="store_true", help="keep the loaded schema")
    args = parser.parse_args()
    admin = sa.create_engine(PG_SERVER)
    tree = load_tree()
    names = [schema(admin), schema(admin)]
    engines = [make_engine(f"{PG_SERVER}?options=-csearch_path%3D{n}") for n in names]
    try:
        started = time.perf_counter()
        with engines[1].begin() as conn:
            for statement in LOAD:
                conn.execute(sa.text(statement), {"n": args.cases, "days": DAYS,
                                                  "reporters": max(1, args.cases // 3)})
        with engines[1].connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT").execute(sa.text("VACUUM ANALYZE"))
        print(f"loaded {args.cases:,} cases (+3 events, 3 inbound, 2 outbox rows each) over "
              f"{DAYS} days in {time.perf_counter() - started:.1f} s")
        empty = time_reads(engines[0], tree, args.repeat)
        loaded = time_reads(engines[1], tree, args.repeat)
        print(f"{'read':34} {'empty p95 ms':>13} {'loaded p95 ms':>14} {'ratio':>8}")
        for name in empty:
            print(f"{name:34} {empty[name]:13.2f} {loaded[name]:14.2f} "
                  f"{loaded[name] / max(empty[name], 1e-3):8.1f}")
        explain(engines[1])
    finally:
        for engine in engines:
            engine.dispose()
        if not args.keep:
            with admin.begin() as conn:
                for name in names:
                    conn.execute(sa.text(f'DROP SCHEMA "{name}" CASCADE'))
        admin.dispose()


def explain(engine) -> None:
    now = utcnow()
    statements = {
        "review count": sa.select(sa.func.count()).select_from(Case).where(queue_filter()),
        "overdue candidates": sa.select(Case.id).where(sa.text(OPEN_DUE), Case.due_at < now)
        .order_by(Case.due_at).limit(1000),
        "a reporter's cases": sa.select(Case.number).where(Case.reporter_id == 17)
        .order_by(Case.id.desc()).limit(5),
        "dashboard 30 d by label/status": sa.select(Case.label, Case.status, sa.func.count())
        .where(Case.created_at >= now - timedelta(days=30))
        .group_by(Case.label, Case.status),
    }
    with engine.connect() as conn:
        for name, statement in statements.items():
            sql = statement.compile(engine, compile_kwargs={"literal_binds": True})
            plan = conn.execute(sa.text(f"EXPLAIN (ANALYZE, BUFFERS OFF) {sql}")).scalars().all()
            print(f"\n-- {name}\n" + "\n".join(plan))


if __name__ == "__main__":
    main()
