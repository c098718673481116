"""Inbound SMS webhook benchmark: messages per second and p50/p99 latency through a real
`gridintake serve` (gunicorn, 2 workers) on loopback, with the intake path done in full
(signature checked, stored, classified, geocoded, replied, cases filed), against a bare Flask
endpoint answering a fixed TwiML under the same gunicorn settings (gateway/server.py), in the
same run.

Each of N concurrent senders (a phone number) texts a report and then "1" to file it, every
message signed like Twilio signs it. Two phases per endpoint:
- saturation (closed loop): every sender texts again as soon as it has its reply — the throughput;
  its latency is only queueing (50 senders waiting on 2 workers: p50 ≈ 50 / throughput);
- paced (open loop): every sender texts once per `--interval` seconds at its own phase, as phones
  do, whether or not the server keeps up — the latency residents see at that offered load.
Runs on SQLite and, when reachable, PostgreSQL.

Usage: python bench/webhook.py [--senders 50] [--messages 20] [--interval 1] [--workers 2]
                               [--threads 1]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from flask import Flask, Response

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
TOKEN = "bench-twilio-token"
PG_SERVER = "postgresql+psycopg2://postgres@127.0.0.1:5432/test"
REPORTS = ["淇滨大道与九州路交叉口的井盖坏了", "华夏南路与黎阳路交叉口的路灯不亮",
           "九州路与淇滨大道交叉口垃圾没人清理", "The street light at Qibin Avenue and Jiuzhou Road is out"]
FIXED = ('<?xml version="1.0" encoding="UTF-8"?><Response><Message>已收到。</Message></Response>')

bare_app = Flask("bare")


@bare_app.post("/sms/twilio")
def bare_twilio() -> Response:
    return Response(FIXED, mimetype="text/xml")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve_bare(port: int, workers: int, threads: int) -> None:
    """The bare endpoint under the gateway's own gunicorn settings (gateway/server.py)."""
    from gateway.server import Gunicorn, gunicorn_settings

    Gunicorn(lambda: bare_app, f"127.0.0.1:{port}", gunicorn_settings(workers, threads)).run()


def start(bare: bool, env: dict[str, str], workers: int, threads: int,
          log: Path) -> tuple[subprocess.Popen, str]:
    """`gridintake serve`, or the bare endpoint, on a free port."""
    import httpx

    port = free_port()
    sizing = ["--workers", str(workers), "--threads", str(threads)]
    command = ([sys.executable, __file__, "--serve-bare", str(port), *sizing] if bare else
               [str(BIN / "gridintake"), "serve", "--host", "127.0.0.1", "--port", str(port),
                "--no-worker", *sizing])
    proc = subprocess.Popen(command, env=env, cwd=ROOT, stdout=log.open("w"),
                            stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited: {log.read_text()[-2000:]}")
        try:
            httpx.post(base + "/sms/twilio", timeout=2)
            return proc, base
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.terminate()
    raise SystemExit(f"server did not start: {log.read_text()[-2000:]}")


async def load(base: str, senders: int, messages: int, run_id: str,
               interval: float | None = None) -> tuple[list[float], float]:
    """Closed loop (interval None): every sender waits for its reply, then texts again. Paced:
    sender n texts at phase_n + i × interval (later only if its previous reply is still due)."""
    import httpx
    from twilio.request_validator import RequestValidator

    url = base + "/sms/twilio"
    validator = RequestValidator(TOKEN)
    latencies: list[float] = []
    limits = httpx.Limits(max_connections=senders, max_keepalive_connections=senders)

    async def sender(client: httpx.AsyncClient, n: int) -> None:
        phone = f"+86138{n:04d}{run_id}"
        phase = interval * n / senders if interval else 0.0
        for i in range(messages):
            if interval:
                await asyncio.sleep(max(0.0, epoch + phase + i * interval - time.perf_counter()))
            body = REPORTS[(n + i // 2) % len(REPORTS)] if i % 2 == 0 else "1"
            form = {"AccountSid": "AC" + "0" * 32, "ApiVersion": "2010-04-01", "Body": body,
                    "From": phone, "To": "+14155550100", "NumMedia": "0",
                    "MessageSid": f"SM{run_id}{n:05d}{i:05d}".ljust(34, "0")}
            headers = {"X-Twilio-Signature": validator.compute_signature(url, form)}
            started = time.perf_counter()
            resp = await client.post(url, data=form, headers=headers)
            latencies.append(time.perf_counter() - started)
            if resp.status_code != 200 or "<Message>" not in resp.text:
                raise SystemExit(f"unexpected answer {resp.status_code}: {resp.text[:200]}")

    async with httpx.AsyncClient(timeout=60, limits=limits) as client:
        epoch = time.perf_counter()
        await asyncio.gather(*(sender(client, n) for n in range(senders)))
        elapsed = time.perf_counter() - epoch
    return latencies, elapsed


def percentiles(latencies: list[float]) -> tuple[float, float]:
    ordered = sorted(latencies)
    return (statistics.median(ordered) * 1000,
            ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000)


def measure(name: str, bare: bool, env: dict[str, str], args, log: Path) -> dict[str, float]:
    proc, base = start(bare, env, args.workers, args.threads, log)
    try:
        asyncio.run(load(base, 4, 4, "w" + uuid.uuid4().hex[:5]))  # load models in both workers
        latencies, elapsed = asyncio.run(load(base, args.senders, args.messages,
                                              uuid.uuid4().hex[:6]))
        paced, _ = asyncio.run(load(base, args.senders, args.messages, uuid.uuid4().hex[:6],
                                    interval=args.interval))
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    (p50, p99), (paced_p50, paced_p99) = percentiles(latencies), percentiles(paced)
    return {"name": name, "rps": len(latencies) / elapsed, "n": len(latencies), "p50": p50,
            "p99": p99, "paced_p50": paced_p50, "paced_p99": paced_p99}


def pg_schema() -> str | None:
    import sqlalchemy as sa

    try:
        engine = sa.create_engine(PG_SERVER, connect_args={"connect_timeout": 3})
        schema = f"bench_{uuid.uuid4().hex[:8]}"
        with engine.begin() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
        engine.dispose()
        return schema
    except Exception as exc:
        print(f"PostgreSQL skipped: {type(exc).__name__}", file=sys.stderr)
        return None


def drop_schema(schema: str) -> None:
    import sqlalchemy as sa

    engine = sa.create_engine(PG_SERVER)
    with engine.begin() as conn:
        conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
    engine.dispose()


def gateway_env(tmp: Path, database_url: str | None) -> dict[str, str]:
    env = {**os.environ, "GRIDINTAKE_DATA_DIR": str(tmp / "var"),
           "GRIDINTAKE_TWILIO_AUTH_TOKEN": TOKEN, "GRIDINTAKE_LIMITS_PER_SENDER": "100000/minute",
           "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    env.pop("GRIDINTAKE_PUBLIC_URL", None)
    if database_url:
        env["GRIDINTAKE_DATABASE_URL"] = database_url
    subprocess.run([str(BIN / "gridintake"), "db", "upgrade"], env=env, check=True,
                   capture_output=True)
    return env


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--senders", type=int, default=50)
    parser.add_argument("--messages", type=int, default=20, help="per sender")
    parser.add_argument("--interval", type=float, default=1.0,
                        help="seconds between a sender's texts in the paced phase")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1,
                        help="per worker, the same for both endpoints (>1: gthread workers)")
    parser.add_argument("--serve-bare", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_bare:
        serve_bare(args.serve_bare, args.workers, args.threads)
        return 0
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        bare = measure("bare Flask (fixed TwiML)", True, dict(os.environ), args, tmp / "bare.log")
        rows = [bare]
        backends = [("SQLite", None)]
        schema = pg_schema()
        if schema:
            backends.append(("PostgreSQL", f"{PG_SERVER}?options=-csearch_path%3D{schema}"))
        try:
            for label, url in backends:
                env = gateway_env(tmp / label, url)
                rows.append(measure(f"gridintake, {label}", False, env, args, tmp / f"{label}.log"))
        finally:
            if schema:
                drop_schema(schema)
    kind = "sync" if args.threads == 1 else f"gthread ×{args.threads}"
    offered = args.senders / args.interval
    print(f"{args.senders} concurrent senders × {args.messages} messages, gunicorn "
          f"{args.workers} {kind} workers, loopback; paced: {offered:.0f} msg/s offered")
    print(f"{'endpoint':32} {'msgs':>5} {'msg/s':>8} {'× bare':>7} {'p50 ms':>8} {'p99 ms':>8}"
          f" {'paced p50':>10} {'paced p99':>10}")
    for row in rows:
        print(f"{row['name']:32} {row['n']:5d} {row['rps']:8.1f} {row['rps'] / bare['rps']:7.2f} "
              f"{row['p50']:8.1f} {row['p99']:8.1f} {row['paced_p50']:10.1f} "
              f"{row['paced_p99']:10.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
