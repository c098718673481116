"""MMS media fetches cannot reach into our own network: loopback servers stand in for Twilio's
media store and for internal services; only what the test's allow-list names is reachable, and
addresses are checked at every hop. A refused fetch keeps the message, without the photo."""

from __future__ import annotations

import socket
import socketserver
import threading
import time

import httpx
import pytest
from sqlalchemy import select

from bot.safe_fetch import FetchError, FetchPolicy, fetch
from storage.db import transaction
from storage.models import Attachment, InboundMessage
from tests.conftest import make_runtime
from tests.support.http import live_gateway
from tests.support.images import photo
from tests.support.sms import ACCOUNT, TOKEN, sign, twilio_form

JPEG = photo("JPEG")
CAP = 1024 * 1024


def _store(local_server):
    return local_server(lambda seen: (200, {"Content-Type": "image/jpeg"}, JPEG))


def _redirector(local_server, *targets: str):
    """Answers the n-th request with a redirect to targets[n]."""
    hops = iter(targets)
    return local_server(lambda seen: (302, {"Location": next(hops)}, b""))


def _port(server) -> int:
    return server.httpd.server_address[1]


def test_an_allowed_loopback_store_is_fetched(local_server):
    store = _store(local_server)
    assert fetch(store.url + "/m/1", FetchPolicy(("127.0.0.1",), CAP)) == JPEG


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "0x7f000001", "2130706433", "[::1]"])
def test_loopback_is_refused_unless_listed_by_address(local_server, host):
    internal = _store(local_server)
    policy = FetchPolicy(("localhost", "api.twilio.com"), CAP)  # a name, not the address
    with pytest.raises(FetchError, match="refused"):
        fetch(f"http://{host}:{_port(internal)}/admin", policy)
    assert internal.requests == []


def test_a_redirect_into_the_private_network_is_refused(local_server):
    internal = _store(local_server)
    hop = _redirector(local_server, f"http://localhost:{_port(internal)}/secret.jpg")
    with pytest.raises(FetchError, match=r"resolves to .*127\.0\.0\.1"):
        fetch(hop.url + "/m/1", FetchPolicy(("127.0.0.1", "localhost"), CAP))
    assert len(hop.requests) == 1 and internal.requests == []


def test_a_redirect_to_a_host_off_the_list_is_refused(local_server):
    hop = _redirector(local_server, "http://example.org/x.jpg")
    with pytest.raises(FetchError, match=r"example\.org is not an allowed media host"):
        fetch(hop.url + "/m/1", FetchPolicy(("127.0.0.1",), CAP))


def test_at_most_three_redirects(local_server):
    store = _store(local_server)
    three = _redirector(local_server, *[f"/{n}" for n in range(2)], store.url + "/m")
    assert fetch(three.url + "/start", FetchPolicy(("127.0.0.1",), CAP)) == JPEG
    four = _redirector(local_server, *[f"/{n}" for n in range(3)], store.url + "/m")
    with pytest.raises(FetchError, match="more than 3 redirects"):
        fetch(four.url + "/start", FetchPolicy(("127.0.0.1",), CAP))
    assert len(store.requests) == 1


def test_credentials_go_only_to_the_api_host(local_server):
    cdn = _store(local_server)
    api = _redirector(local_server, cdn.url + "/media.jpg")
    host = f"127.0.0.1:{_port(api)}"
    fetch(api.url + "/Media/ME1", FetchPolicy(("127.0.0.1",), CAP), auth=("AC1", "tok"), auth_host=host)
    assert api.requests[0].headers["Authorization"].startswith("Basic ")
    assert "Authorization" not in cdn.requests[0].headers


class _Drip(socketserver.BaseRequestHandler):
    """Headers, then one byte every 0.2 s for ever: a worker held by a slow server."""

    def handle(self) -> None:
        self.request.recv(4096)
        self.request.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: image/jpeg\r\nContent-Length: 100000\r\n\r\n")
        try:
            while True:
                self.request.sendall(b"\xff")
                time.sleep(0.2)
        except OSError:
            pass


@pytest.fixture
def drip():
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Drip)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_one_deadline_for_the_whole_fetch(drip):
    started = time.monotonic()
    with pytest.raises(FetchError):
        fetch(drip + "/slow.jpg", FetchPolicy(("127.0.0.1",), CAP, deadline_s=1.5))
    assert 1.4 < time.monotonic() - started < 2.5


def test_a_silent_server_is_bounded_too():
    with socket.socket() as listener:  # accepts (backlog) but never answers
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        started = time.monotonic()
        with pytest.raises(FetchError):
            fetch(f"http://127.0.0.1:{listener.getsockname()[1]}/x",
                  FetchPolicy(("127.0.0.1",), CAP, deadline_s=1.0))
        assert time.monotonic() - started < 2.0


def test_a_refused_mms_fetch_keeps_the_message_without_the_photo(tmp_path, local_server):
    internal = _store(local_server)
    runtime = make_runtime(tmp_path / "var", GRIDINTAKE_TWILIO_AUTH_TOKEN=TOKEN,
                           GRIDINTAKE_TWILIO_ACCOUNT_SID=ACCOUNT)  # default list: Twilio's hosts
    with live_gateway(runtime) as base:
        url = f"{base}/sms/twilio"
        form = twilio_form("inbound_mms.json", Body="九州路口的井盖坏了", MessageSid="MMSSRF",
                           MediaUrl0=internal.url + "/internal.jpg", MediaContentType0="image/jpeg")
        answer = httpx.post(url, data=form, headers={"X-Twilio-Signature": sign(url, form)}, timeout=60)
    assert answer.status_code == 200 and "照片无法读取" in answer.text
    assert internal.requests == []
    with transaction(runtime.sessions) as session:
        assert session.scalar(select(Attachment)) is None
        row = session.scalar(select(InboundMessage))
        assert row.text == "九州路口的井盖坏了"
        assert row.payload["raw"]["media"][0]["status"].startswith("error: refused")
    runtime.db.dispose()
