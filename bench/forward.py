"""Drain a backlog of 10,000 due webhook deliveries into a loopback receiver.

PostgreSQL with 1, 2 and 4 `gridintake worker --once` processes (FOR UPDATE SKIP LOCKED),
SQLite with 1; baseline: the same 10,000 signed POSTs from one plain HTTP client loop (no
database), measured in the same run. Prints deliveries/s, the ratio to the baseline and the
number of idempotency keys delivered more than once (must be 0). Target: 10,000 in < 60 s.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import sqlalchemy as sa

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bot.signing import signature  # noqa: E402
from storage.migrate import upgrade  # noqa: E402
from storage.models import Outbox, utcnow  # noqa: E402

PG_SERVER = "postgresql+psycopg2://postgres@127.0.0.1:5432/test"
SECRET = "bench-secret"
DOCUMENT = {  # a case document of realistic size
    "type": "case.created",
    "case": {
        "number": "GI-20261122-000123", "label": "component:0101",
        "text": "淇滨大道与九州路交叉口的井盖坏了" * 4,
        "category": {"kind": "component", "major": "01", "minor": "0101", "name_zh": "上水井盖"},
        "location": {"wgs84": {"lat": 35.747, "lon": 114.297}, "gcj02": {"lat": 35.746, "lon": 114.303}},
        "grid": {"code": "41061100100101", "district": "淇滨区", "street": "九州路街道",
                 "community": "桃园社区"},
        "routing": {"principle": "owner", "department": "市政设施管理处"},
    },
}


class Receiver:
    def __init__(self) -> None:
        self.keys: Counter = Counter()
        self.lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def log_message(self, *args) -> None:
                pass

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with owner.lock:
                    owner.keys[self.headers.get("Idempotency-Key")] += 1
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def reset(self) -> None:
        with self.lock:
            self.keys.clear()


def fill(url: str, n: int) -> None:
    engine = sa.create_engine(url)
    now = utcnow()
    rows = [{"sink": "webhook", "target": None, "case_id": None, "payload": DOCUMENT,
             "idempotency_key": f"bench:{i}", "status": "pending", "attempts": 0,
             "next_attempt_at": now, "created_at": now} for i in range(n)]
    with engine.begin() as conn:
        for start in range(0, n, 2000):
            conn.execute(sa.insert(Outbox), rows[start:start + 2000])
    engine.dispose()


def undelivered(url: str) -> int:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        count = conn.scalar(sa.select(sa.func.count()).select_from(Outbox).where(Outbox.status != "done"))
    engine.dispose()
    return count


def drain(url: str, workers: int, receiver: Receiver, data_dir: str, batch: int) -> float:
    env = {**os.environ, "GRIDINTAKE_DATABASE_URL": url, "GRIDINTAKE_DATA_DIR": data_dir,
           "GRIDINTAKE_WEBHOOK_URL": receiver.url, "GRIDINTAKE_WEBHOOK_SECRET": SECRET}
    command = [sys.executable, "-m", "gateway.cli", "worker", "--once", "--batch-size", str(batch)]
    started = time.perf_counter()
    procs = [subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.DEVNULL) for _ in range(workers)]
    for proc in procs:
        if proc.wait() != 0:
            raise SystemExit(f"worker exited with {proc.returncode}")
    return time.perf_counter() - started


def bare_http(receiver: Receiver, n: int) -> float:
    """The ceiling: the same signed POSTs from one keep-alive client, no database."""
    started = time.perf_counter()
    with httpx.Client() as client:
        for i in range(n):
            body = json.dumps({**DOCUMENT, "idempotency_key": f"bare:{i}"}, ensure_ascii=False,
                              sort_keys=True, separators=(",", ":")).encode()
            client.post(receiver.url, content=body, headers={
                "Idempotency-Key": f"bare:{i}", "X-Gridintake-Signature": signature(SECRET, body)})
    return time.perf_counter() - started


def run(label: str, url: str, workers: int, receiver: Receiver, n: int, batch: int, baseline: float,
        data_dir: str) -> None:
    upgrade(url)
    fill(url, n)
    receiver.reset()
    seconds = drain(url, workers, receiver, data_dir, batch)
    doubles = sum(1 for count in receiver.keys.values() if count > 1)
    missing = undelivered(url)
    rate = n / seconds
    print(f"{label:<22} workers={workers}  {seconds:6.2f} s  {rate:7.0f} deliveries/s  "
          f"x{rate / baseline:.2f} of bare HTTP  delivered twice: {doubles}  not done: {missing}  "
          f"{'OK' if seconds < 60 and doubles == 0 and missing == 0 else 'MISSED'}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-n", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=50)
    parser.add_argument("--workers", default="1,2,4")
    args = parser.parse_args()
    receiver = Receiver()
    bare = args.n / bare_http(receiver, args.n)
    print(f"{'bare HTTP (baseline)':<22} client=1   {args.n / bare:6.2f} s  {bare:7.0f} deliveries/s",
          flush=True)
    admin = sa.create_engine(PG_SERVER)
    try:
        with admin.connect():
            pass
        pg = True
    except sa.exc.OperationalError as exc:
        print(f"PostgreSQL not reachable ({type(exc).__name__}); PostgreSQL runs skipped")
        pg = False
    with tempfile.TemporaryDirectory() as tmp:
        for workers in (int(w) for w in args.workers.split(",")) if pg else ():
            schema = f"bench_{uuid.uuid4().hex[:8]}"
            with admin.begin() as conn:
                conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
            try:
                run("PostgreSQL", f"{PG_SERVER}?options=-csearch_path%3D{schema}", workers, receiver,
                    args.n, args.batch, bare, tmp)
            finally:
                with admin.begin() as conn:
                    conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        run("SQLite (WAL)", f"sqlite:///{tmp}/bench.db", 1, receiver, args.n, args.batch, bare, tmp)
    admin.dispose()


if __name__ == "__main__":
    main()
