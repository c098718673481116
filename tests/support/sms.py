"""Shared pieces for the SMS tests: Twilio's documented form posts, signing, a local HTTP server
standing in for Twilio's REST API, its media store and a generic SMS provider."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs

import pytest
from sqlalchemy import func, select
from twilio.request_validator import RequestValidator

from gateway.app import create_app
from storage.db import transaction
from storage.models import InboundMessage
from tests.conftest import make_runtime

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "sms"
TOKEN = "twilio-test-auth-token"
ACCOUNT = "ACae0e4a4d2d0e7b5f3c2a1b0c9d8e7f6a"


def twilio_form(name: str = "inbound_text.json", **changes: str) -> dict[str, str]:
    form = json.loads((FIXTURES / name).read_text("utf-8"))
    if "MessageSid" in changes:
        changes.setdefault("SmsSid", changes["MessageSid"])
        changes.setdefault("SmsMessageSid", changes["MessageSid"])
    form.update(changes)
    return form


def sign(url: str, form: dict[str, str], token: str = TOKEN) -> str:
    return RequestValidator(token).compute_signature(url, form)


def inbound_count(runtime) -> int:
    with transaction(runtime.sessions) as session:
        return session.scalar(select(func.count(InboundMessage.id)))


class Texter:
    """A resident texting the gateway through Flask's test client, each message signed."""

    def __init__(self, client, phone: str = "+8613800001234", url: str = "http://localhost/sms/twilio"):
        self.client, self.phone, self.url, self.n = client, phone, url, 0

    def send(self, body: str, **extra: str):
        self.n += 1
        form = twilio_form(Body=body, From=self.phone, MessageSid=f"SM{self.phone[-6:]}{self.n:026d}",
                           **extra)
        return self.client.post("/sms/twilio", data=form,
                                headers={"X-Twilio-Signature": sign(self.url, form)})

    def say(self, body: str, **extra: str) -> str:
        resp = self.send(body, **extra)
        assert resp.status_code == 200, resp.data
        return resp.data.decode()


@pytest.fixture
def sms_runtime(tmp_path) -> Iterator:
    rt = make_runtime(tmp_path / "var", GRIDINTAKE_TWILIO_AUTH_TOKEN=TOKEN,
                      GRIDINTAKE_TWILIO_ACCOUNT_SID=ACCOUNT, GRIDINTAKE_TWILIO_FROM="+14155550100")
    yield rt
    rt.db.dispose()


@pytest.fixture
def sms_client(sms_runtime):
    return create_app(sms_runtime).test_client()


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class LocalServer:
    """A loopback HTTP server; `respond(seen) -> (status, headers, body)` decides each answer."""

    respond: Callable[[Seen], tuple[int, dict[str, str], bytes]]
    requests: list[Seen] = field(default_factory=list)

    def __post_init__(self) -> None:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                seen = Seen(self.command, self.path, dict(self.headers), self.rfile.read(length))
                outer.requests.append(seen)
                status, headers, body = outer.respond(seen)
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = _serve

            def log_message(self, *args) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def local_server() -> Iterator[Callable[..., LocalServer]]:
    servers: list[LocalServer] = []

    def start(respond) -> LocalServer:
        servers.append(LocalServer(respond))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


def twilio_api(local_server, answer: str = "created", status: int = 201):
    def respond(seen):
        fixture = json.loads((FIXTURES / f"outbound_{answer}.json").read_text())
        if answer == "created":
            form = parse_qs(seen.body.decode())
            fixture.update(to=form["To"][0], body=form["Body"][0])
        return status, {"Content-Type": "application/json"}, json.dumps(fixture).encode()

    return local_server(respond)
