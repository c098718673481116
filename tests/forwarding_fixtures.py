"""Fixtures for the forwarding tests: loopback HTTP receivers standing in for the city platform
and an Open311 server, a recording resident sender, and cases filed through the real intake."""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from bot.signing import HEADER, signature
from cases.filing import Intake
from cases.outbox import RecipientUnreachable
from categories import load_tree
from gateway.forwarding import case_listeners
from gateway.forwarding.worker import Worker, WorkerSettings
from gateway.runtime import Runtime
from geo.types import GeoResult, GridCell
from nlp.types import Classification, Scored
from storage.db import transaction
from storage.models import Attachment, Case, Reporter
from tests.conftest import make_runtime

WEBHOOK_SECRET = "webhook-secret-for-tests"
PLATFORM_SECRET = "platform-secret-for-tests"
OPEN311_KEY = "open311-key-for-tests"
HEBI = (35.7470, 114.2970)  # a point in the demo city
GRID = GridCell(code="41061100100101", district="淇滨区", street="九州路街道", community="桃园社区")


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    answered: int | None = None

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def form(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(self.body.decode()).items()}


@dataclass
class Receiver:
    """A loopback HTTP server. `plan` scripts answers for the webhook path: status codes, or
    "hang" (answer only after `hang_s`, i.e. a client timeout); when empty it answers 200."""

    plan: list[Any] = field(default_factory=list)
    hang_s: float = 2.0
    requests: list[Seen] = field(default_factory=list)
    open311: dict[str, dict[str, Any]] = field(default_factory=dict)
    open311_tokens: bool = False
    received: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> Receiver:
        owner = self
        ids = itertools.count(1)

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def log_message(self, *args) -> None:
                pass

            def _answer(self, code: int, data: Any) -> None:
                body = json.dumps(data).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _seen(self) -> Seen:
                length = int(self.headers.get("Content-Length") or 0)
                url = urlsplit(self.path)
                seen = Seen(self.command, url.path, parse_qs(url.query), dict(self.headers.items()),
                            self.rfile.read(length))
                with owner.lock:
                    owner.requests.append(seen)
                owner.received.set()
                return seen

            def do_POST(self) -> None:
                seen = self._seen()
                if seen.path.startswith("/open311/"):
                    code, data = owner._open311_create(seen, next(ids))
                else:
                    with owner.lock:
                        step = owner.plan.pop(0) if owner.plan else 200
                    if step == "hang":
                        time.sleep(owner.hang_s)
                        step = 200
                    code, data = step, {"ok": step < 300}
                seen.answered = code
                self._answer(code, data)

            def do_GET(self) -> None:
                seen = self._seen()
                code, data = owner._open311_get(seen)
                seen.answered = code
                self._answer(code, data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def webhook(self, kind: str | None = None) -> list[Seen]:
        return [s for s in self.requests if s.path == "/hook"
                and (kind is None or s.json().get("type") == kind)]

    def delivered_keys(self) -> Counter:
        """How many times each idempotency key was accepted (answered 2xx)."""
        return Counter(s.headers["Idempotency-Key"] for s in self.webhook()
                       if s.answered is not None and s.answered < 300)

    # -- Open311 GeoReport v2 ------------------------------------------------------------------

    def _open311_create(self, seen: Seen, n: int) -> tuple[int, Any]:
        form = seen.form
        if seen.path != "/open311/requests.json":
            return 404, [{"code": 404, "description": "not found"}]
        if form.get("api_key") != OPEN311_KEY:
            return 403, [{"code": 403, "description": "invalid api_key"}]
        if not form.get("service_code") or not (form.get("lat") or form.get("address_string")):
            return 400, [{"code": 400, "description": "service_code and a location are required"}]
        request_id = f"SR-{n}"
        self.open311[request_id] = {
            "service_request_id": request_id, "status": "open", "status_notes": None,
            "service_code": form["service_code"], "description": form.get("description"),
            "agency_responsible": None, "address": form.get("address_string"),
            "lat": float(form["lat"]) if form.get("lat") else None,
            "long": float(form["long"]) if form.get("long") else None,
            "media_url": form.get("media_url"), "token": f"TK-{n}",
        }
        if self.open311_tokens:
            return 201, [{"token": f"TK-{n}"}]
        return 201, [{"service_request_id": request_id, "service_notice": ""}]

    def _open311_get(self, seen: Seen) -> tuple[int, Any]:
        public = [{k: v for k, v in r.items() if k != "token"} for r in self.open311.values()]
        if seen.path == "/open311/requests.json":
            wanted = ",".join(seen.query.get("service_request_id", [])).split(",")
            return 200, [r for r in public if r["service_request_id"] in wanted or wanted == [""]]
        if seen.path.startswith("/open311/requests/"):
            request_id = seen.path.rsplit("/", 1)[1].removesuffix(".json")
            return 200, [r for r in public if r["service_request_id"] == request_id]
        if seen.path.startswith("/open311/tokens/"):
            token = seen.path.rsplit("/", 1)[1].removesuffix(".json")
            return 200, [{"service_request_id": r["service_request_id"], "token": token}
                         for r in self.open311.values() if r["token"] == token]
        return 404, [{"code": 404, "description": "not found"}]


@dataclass
class RecordingSender:
    """Stands in for the Telegram / SMS senders: records what residents would receive."""

    sent: list[dict[str, Any]] = field(default_factory=list)
    blocked: set[str] = field(default_factory=set)

    def __call__(self, runtime: Runtime, row) -> dict:
        if row.target in self.blocked:
            raise RecipientUnreachable("bot was blocked by the user")
        self.sent.append({"sink": row.sink, "target": row.target, "key": row.idempotency_key,
                          **row.payload})
        return {"message_id": len(self.sent)}

    def to(self, target: str) -> list[dict[str, Any]]:
        return [m for m in self.sent if m["target"] == target]


def classification(label: str) -> Classification:
    tree = load_tree()
    category = tree.get(label)
    return Classification(label=label, kind=category.kind, major=category.major, minor=category.minor,
                          name=category.name_zh, name_en=category.name_en, confidence=0.9,
                          urgent=False, top=[Scored(label, 0.9), Scored("none", 0.05),
                                             Scored("event:0102", 0.05)])


@dataclass
class Env:
    runtime: Runtime
    receiver: Receiver
    residents: RecordingSender
    intake: Intake

    def file(self, text: str = "九州路口的井盖坏了", *, lat: float = HEBI[0], lon: float = HEBI[1],
             label: str = "component:0101", channel: str = "telegram", sender: str = "1001",
             language: str = "zh", consent: bool = True, phone: str | None = "13812345678",
             attachments: tuple[int, ...] = ()) -> str:
        with transaction(self.runtime.sessions) as session:
            reporter = session.scalar(select(Reporter).filter_by(channel=channel,
                                                                 channel_user_id=sender))
            if reporter is None:
                reporter = Reporter(channel=channel, channel_user_id=sender, language=language,
                                    consent_contact=consent, phone=phone, display_name="张三")
                session.add(reporter)
            place = GeoResult(lat=lat, lon=lon, provider="pin", confidence=1.0, matched="九州路口",
                              cell=GRID)
            case = self.intake.file_case(session, text=text, classification=classification(label),
                                         place=place, channel=channel, reporter=reporter,
                                         language=language, contact_phone=phone,
                                         attachments=[session.get(Attachment, a) for a in attachments])
            return case.number

    def case(self, number: str) -> Case:
        with transaction(self.runtime.sessions) as session:
            case = session.query(Case).filter_by(number=number).one()
            case.events, case.duplicate_of  # noqa: B018 - load before the session closes
            return case

    def worker(self, **settings: Any) -> Worker:
        base = {"max_attempts": 4, "backoff_base_s": 0.0, "timeout_s": 0.5, "lease_s": 5.0}
        return Worker(self.runtime, WorkerSettings(**{**base, **settings}))

    def drain(self, **settings: Any) -> dict[str, int]:
        worker = self.worker(**settings)
        try:
            return worker.run_once()
        finally:
            worker.close()


def signed_post(client: FlaskClient, path: str, data: Any, secret: str = PLATFORM_SECRET,
                timestamp: int | None = None, header: str | None = None):
    body = json.dumps(data).encode() if not isinstance(data, bytes) else data
    headers = {"Content-Type": "application/json"}
    value = header if header is not None else signature(secret, body, timestamp)
    if value:
        headers[HEADER] = value
    return client.post(path, data=body, headers=headers)


def post_event(client: FlaskClient, number: str, data: dict[str, Any], event_id: str | None = None,
               **signing: Any):
    """A signed status event for case `number`, bound to it and with an event id of its own
    (a fresh one unless given)."""
    body = {"case": number, "event_id": event_id or f"ev-{next(_event_ids)}", **data}
    return signed_post(client, f"/api/v1/cases/{number}/events", body, **signing)


_event_ids = itertools.count(1)


def runtime_env(receiver: Receiver, **extra: str) -> dict[str, str]:
    return {
        "GRIDINTAKE_WEBHOOK_URL": receiver.url + "/hook",
        "GRIDINTAKE_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "GRIDINTAKE_PLATFORM_SECRET": PLATFORM_SECRET,
        "GRIDINTAKE_OPEN311_API_KEY": OPEN311_KEY,
        **extra,
    }


def build_env(data_dir: Path, database_url: str | None, receiver: Receiver, **extra: str) -> Env:
    runtime = make_runtime(data_dir, database_url, **runtime_env(receiver, **extra))
    tree = load_tree()
    # The real classifier is not needed here: forwarding only reads the category tree.
    runtime.__dict__["classifiers"] = SimpleNamespace(current=lambda: SimpleNamespace(tree=tree))
    intake = Intake(classify=classification, tree=runtime.tree, geo=None,
                    listeners=case_listeners(runtime))
    return Env(runtime, receiver, RecordingSender(), intake)


@pytest.fixture
def receiver():
    server = Receiver().start()
    yield server
    server.stop()


@pytest.fixture
def fwd(tmp_path, database_url, receiver):
    """Forwarding on SQLite and on PostgreSQL in turn, webhook pointed at the receiver."""
    env = build_env(tmp_path / "var", database_url, receiver)
    with recording_senders(env.runtime, env.residents, "telegram", "sms"):
        yield env
    env.runtime.db.dispose()


@contextmanager
def recording_senders(runtime: Runtime, recorder: RecordingSender, *sinks: str) -> Iterator[None]:
    """Put the recorder in place of this runtime's channel senders, and put those back afterwards."""
    previous = {sink: runtime.senders[sink] for sink in sinks}
    runtime.senders.update(dict.fromkeys(sinks, recorder))
    try:
        yield
    finally:
        runtime.senders.update(previous)
