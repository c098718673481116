"""`make faults`: real processes on a private PostgreSQL cluster, faults injected, one table.

Scenarios (each on a fresh cluster made with initdb/pg_ctl in a temporary folder):
- gateway kill -9 mid-burst: 4 senders post signed Twilio messages to `gridintake serve`; the
  gateway's process group is killed with SIGKILL mid-burst and started again; like Twilio, a
  sender posts a message again until it gets a 2xx.
- PostgreSQL restart under paced load: 10 messages a second to `gridintake serve` while the
  database is restarted (`pg_ctl restart -m fast`); senders retry as above.
- worker kill -9 mid-drain: `gridintake worker` delivers cases to a loopback platform that
  records every Idempotency-Key; the worker is killed with SIGKILL mid-drain and started again.
- platform 500 for --outage seconds, then recovering: the worker keeps retrying (backoff with
  jitter, capped at an hour) and delivers everything once the platform answers again.

Columns: sent (messages or cases), stored (inbound rows or outbox rows), processed (inbound
processed or rejected; outbox done), delivered (distinct idempotency keys the platform
accepted), delivered twice (keys accepted more than once), lost (sent but not stored, or
stored but never delivered), 5xx (answers >= 500 the senders saw).
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import sqlalchemy as sa

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.forwarding_fixtures import Receiver, build_env, runtime_env  # noqa: E402
from tests.support.pgcluster import private_cluster  # noqa: E402
from tests.support.processes import GRIDINTAKE, free_port  # noqa: E402
from tests.support.sms import ACCOUNT, TOKEN, sign, twilio_form  # noqa: E402

COLUMNS = ("sent", "stored", "processed", "delivered", "delivered twice", "lost", "5xx")


def wait(what: str, check: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise SystemExit(f"faults: timed out waiting for {what}")
        time.sleep(0.1)


def count(url: str, sql: str) -> int:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(sa.text(sql)).scalar_one())
    finally:
        engine.dispose()


class Gateway:
    """`gridintake serve` in its own process group, restartable."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.env, self.log, self.port = env, log, free_port()
        self.proc: subprocess.Popen | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        with self.log.open("a") as out:
            self.proc = subprocess.Popen([str(GRIDINTAKE), "serve", "--port", str(self.port),
                                          "--no-worker"],
                                         env=self.env, stdout=out, stderr=subprocess.STDOUT,
                                         start_new_session=True)

        def healthy() -> bool:
            try:
                return httpx.get(self.base + "/healthz", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        wait("the gateway", healthy, 180)

    def kill(self) -> None:
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(30)


class Texters:
    """Senders posting signed Twilio messages; each message is posted until it gets a 2xx."""

    def __init__(self, gateway: Gateway, public_url: str) -> None:
        self.gateway, self.url = gateway, public_url + "/sms/twilio"
        self.sent = 0
        self.server_errors = 0
        self.lock = threading.Lock()

    def send(self, n: int, phone: str) -> None:
        form = twilio_form(Body="帮助", From=phone, MessageSid=f"SM{n:032d}")
        headers = {"X-Twilio-Signature": sign(self.url, form)}
        with self.lock:
            self.sent += 1
        while True:
            try:
                answer = httpx.post(self.gateway.base + "/sms/twilio", data=form, headers=headers,
                                    timeout=15)
                if answer.status_code < 300:
                    return
                if answer.status_code >= 500:
                    with self.lock:
                        self.server_errors += 1
            except httpx.HTTPError:
                pass  # the gateway is down: Twilio tries again a little later
            time.sleep(0.5)

    def burst(self, numbers: range, senders: int = 4, pace_s: float = 0.0) -> None:
        def run(part: list[int]) -> None:
            for n in part:
                self.send(n, f"+86138{n % 10_000:04d}{n // 10_000:04d}")
                time.sleep(pace_s)

        parts = [list(numbers)[i::senders] for i in range(senders)]
        threads = [threading.Thread(target=run, args=(part,)) for part in parts]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()


def sms_row(url: str, sent: int, server_errors: int) -> dict[str, object]:
    stored = count(url, "SELECT count(DISTINCT idempotency_key) FROM inbound_message")
    processed = count(url, "SELECT count(*) FROM inbound_message WHERE status IN ('processed', 'rejected')")
    return {"sent": sent, "stored": stored, "processed": processed, "delivered": "—",
            "delivered twice": "—", "lost": sent - stored, "5xx": server_errors}


def sms_env(cluster_url: str, data_dir: Path, public_url: str) -> dict[str, str]:
    return {**os.environ, "GRIDINTAKE_DATABASE_URL": cluster_url, "GRIDINTAKE_DATA_DIR": str(data_dir),
            "GRIDINTAKE_TWILIO_AUTH_TOKEN": TOKEN, "GRIDINTAKE_TWILIO_ACCOUNT_SID": ACCOUNT,
            "GRIDINTAKE_PUBLIC_URL": public_url, "GRIDINTAKE_LIMITS_PER_SENDER": "1000/minute"}


def gateway_killed(work: Path, messages: int) -> dict[str, object]:
    with private_cluster() as cluster:
        subprocess.run([str(GRIDINTAKE), "db", "upgrade"], check=True, capture_output=True,
                       env=sms_env(cluster.url, work / "a", "http://sms.test"))
        gateway = Gateway(sms_env(cluster.url, work / "a", "http://sms.test"), work / "gateway-a.log")
        gateway.start()
        texters = Texters(gateway, "http://sms.test")
        burst = threading.Thread(target=texters.burst, args=(range(messages),))
        burst.start()
        wait("a third of the burst", lambda: texters.sent >= messages // 3, 120)
        gateway.kill()  # mid-burst: requests in flight are cut off
        gateway.start()
        burst.join()
        gateway.stop()
        return sms_row(cluster.url, texters.sent, texters.server_errors)


def database_restarted(work: Path, seconds: float) -> dict[str, object]:
    with private_cluster() as cluster:
        env = sms_env(cluster.url, work / "b", "http://sms.test")
        subprocess.run([str(GRIDINTAKE), "db", "upgrade"], check=True, capture_output=True, env=env)
        gateway = Gateway(env, work / "gateway-b.log")
        gateway.start()
        texters = Texters(gateway, "http://sms.test")
        load = threading.Thread(target=texters.burst, args=(range(int(seconds * 10)), 2, 0.2))
        load.start()
        time.sleep(seconds / 3)
        cluster.restart("fast")
        load.join()
        gateway.stop()
        return sms_row(cluster.url, texters.sent, texters.server_errors)


def platform_row(env, receiver: Receiver, cases: int) -> dict[str, object]:
    url = env.runtime.config.database_url
    keys = receiver.delivered_keys()
    stored = count(url, "SELECT count(*) FROM outbox WHERE sink = 'webhook'")
    done = count(url, "SELECT count(*) FROM outbox WHERE sink = 'webhook' AND status = 'done'")
    return {"sent": cases, "stored": stored, "processed": done, "delivered": len(keys),
            "delivered twice": sum(1 for n in keys.values() if n > 1), "lost": cases - len(keys),
            "5xx": "—"}


def run_worker(env, receiver: Receiver, work: Path, *args: str) -> subprocess.Popen:
    environ = {**os.environ, **runtime_env(receiver), "GRIDINTAKE_DATA_DIR": str(work),
               "GRIDINTAKE_DATABASE_URL": env.runtime.config.database_url}
    with (work / "worker.log").open("a") as out:
        return subprocess.Popen([str(GRIDINTAKE), "worker", *args], env=environ, stdout=out,
                                stderr=subprocess.STDOUT)


def worker_killed(work: Path, cases: int) -> dict[str, object]:
    receiver = Receiver().start()
    try:
        with private_cluster() as cluster:
            env = build_env(work / "c", cluster.url, receiver)
            for i in range(cases):
                env.file(f"井盖坏了{i}", sender=str(i))
            receiver.plan, receiver.hang_s = ["hang"] * cases, 0.05  # a drain of a few seconds
            worker = run_worker(env, receiver, work / "c", "--lease", "5", "--timeout", "2")
            wait("half the drain", lambda: len(receiver.webhook()) >= cases // 2, 120)
            worker.send_signal(signal.SIGKILL)
            worker.wait()
            worker = run_worker(env, receiver, work / "c", "--lease", "5", "--timeout", "2")
            wait("the rest of the drain", lambda: len(receiver.delivered_keys()) >= cases, 180)
            worker.terminate()
            worker.wait(30)
            row = platform_row(env, receiver, cases)
            env.runtime.db.dispose()
            return row
    finally:
        receiver.stop()


def platform_outage(work: Path, cases: int, outage_s: float) -> dict[str, object]:
    receiver = Receiver().start()
    try:
        with private_cluster() as cluster:
            env = build_env(work / "d", cluster.url, receiver)
            for i in range(cases):
                env.file(f"路灯不亮{i}", sender=str(i))
            receiver.plan = [500] * 100_000  # until the outage ends
            worker = run_worker(env, receiver, work / "d")
            time.sleep(outage_s)
            receiver.plan = []
            wait("delivery after the outage", lambda: len(receiver.delivered_keys()) >= cases,
                 outage_s + 600)
            worker.terminate()
            worker.wait(30)
            row = platform_row(env, receiver, cases)
            env.runtime.db.dispose()
            return row
    finally:
        receiver.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=120)
    parser.add_argument("--cases", type=int, default=100)
    parser.add_argument("--paced-s", type=float, default=12.0, help="paced load around the restart")
    parser.add_argument("--outage", type=float, default=600.0, help="seconds the platform answers 500")
    args = parser.parse_args()
    rows: dict[str, dict[str, object]] = {}
    with tempfile.TemporaryDirectory(prefix="gridintake-faults-") as tmp:
        work = Path(tmp)
        rows["gateway kill -9 mid-burst (Twilio-style retries)"] = gateway_killed(work, args.messages)
        rows["PostgreSQL restart under paced load (10 msg/s)"] = database_restarted(work, args.paced_s)
        rows["worker kill -9 mid-drain"] = worker_killed(work, args.cases)
        rows[f"platform 500 for {args.outage:g} s, then recovering"] = platform_outage(
            work, args.cases, args.outage)
    print("| scenario | " + " | ".join(COLUMNS) + " |")
    print("| --- |" + " --- |" * len(COLUMNS))
    for name, row in rows.items():
        print(f"| {name} | " + " | ".join(str(row[c]) for c in COLUMNS) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
