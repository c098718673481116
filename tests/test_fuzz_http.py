"""Bad input gets a 4xx and a reason, never a 500: hypothesis sends 2,000+ generated requests to
every public endpoint of the gateway (on PostgreSQL, which enforces column lengths), many of them
correctly signed so that they reach the validation behind the signature checks."""

from __future__ import annotations

import json
from collections import Counter
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.oneshot import file_report
from bot.signing import HEADER, signature
from gateway.app import create_app
from tests.conftest import make_runtime
from tests.forwarding_fixtures import PLATFORM_SECRET
from tests.support.sms import TOKEN, sign, twilio_form
from tests.support.users import add_user

pytestmark = [pytest.mark.postgres, pytest.mark.slow]
GENERIC_SECRET = "generic-sms-secret"
REQUESTS = 2100

text = st.text(max_size=40) | st.sampled_from(["", "\x00", "\ud83d", "²", "9" * 30, "-1", "north",
                                               "a" * 300, "http://x/\x01y", "GI-20260101-000001"])
# a form field or a URL can carry anything but a lone surrogate (not encodable at all)
form_text = text.filter(lambda s: not any(0xD800 <= ord(c) <= 0xDFFF for c in s))
scalar = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | text
json_value = st.recursive(scalar, lambda inner: st.lists(inner, max_size=4)
                          | st.dictionaries(text, inner, max_size=4), max_leaves=12)
deep = st.integers(min_value=1, max_value=100_000).map(lambda n: "[" * n + "]" * n)


@st.composite
def json_body(draw, known: tuple[str, ...] = ()) -> bytes:
    """A JSON object using the endpoint's own field names (wrong types, lengths, characters),
    or anything at all, or nesting deep enough to break a recursive parser."""
    kind = draw(st.sampled_from(["fields", "fields", "any", "deep", "bytes"]))
    if kind == "fields" and known:
        fields = draw(st.dictionaries(st.sampled_from(known), json_value, max_size=len(known)))
        return json.dumps(fields).encode()
    if kind == "deep":
        return draw(deep).encode()
    if kind == "bytes":
        return draw(st.binary(max_size=60))
    return json.dumps(draw(json_value)).encode()


@st.composite
def a_request(draw, numbers: list[str]):
    endpoint = draw(st.sampled_from([
        "case", "events", "unlink", "twilio", "generic", "telegram", "wechat_get", "wechat_post",
        "transcripts", "preview", "categories", "media", "healthz", "admin_login", "static"]))
    number = draw(st.sampled_from(numbers) | text.map(lambda s: quote(s, safe="", errors="replace")))
    headers: dict[str, str] = {}
    signed = draw(st.booleans())
    if endpoint == "case":
        return "GET", f"/api/v1/cases/{number}", b"", headers
    if endpoint in ("events", "unlink"):
        body = draw(json_body(("case", "event_id", "status", "note", "department", "photo_url")))
        if signed:
            headers[HEADER] = signature(PLATFORM_SECRET, body)
        else:
            headers[HEADER] = draw(st.sampled_from(["t=²,v1=0", f"t={'9' * 30},v1=0", "garbage", "t=,v1=",
                                                    "v1=abc", "t=1,v1=" + "0" * 64]))
        return "POST", f"/api/v1/cases/{number}/{endpoint}", body, headers
    if endpoint == "twilio":
        form = twilio_form(**draw(st.dictionaries(
            st.sampled_from(["MessageSid", "From", "Body", "NumMedia", "MediaUrl0",
                             "MediaContentType0", "To"]),
            form_text, max_size=4)))
        headers["X-Twilio-Signature"] = sign("http://localhost/sms/twilio", form) if signed else "x"
        return "POST", "/sms/twilio", form, headers
    if endpoint == "generic":
        body = draw(json_body(("id", "from", "to", "text", "received_at")))
        headers[HEADER] = signature(GENERIC_SECRET, body) if signed else "t=1,v1=0"
        return "POST", "/sms/generic", body, headers
    if endpoint == "telegram":
        return "POST", "/telegram/webhook", draw(json_body(("update_id", "message"))), headers
    if endpoint == "wechat_get":
        return "GET", "/wechat?" + quote(draw(text), safe="=&", errors="replace"), b"", headers
    if endpoint == "wechat_post":
        return "POST", "/wechat", draw(st.binary(max_size=80)), headers
    if endpoint in ("transcripts", "preview"):
        path = "/api/v1/transcripts" + ("/preview" if endpoint == "preview" else "")
        body = draw(json_body(("call_id", "text", "phone", "latitude", "longitude", "address",
                               "category", "caller_name", "received_at")))
        headers["Authorization"] = draw(st.sampled_from(["Bearer OPERATOR", "Bearer nope", "Basic x"]))
        return "POST", path, body, headers
    if endpoint == "categories":
        return "GET", "/api/v1/transcripts/categories", b"", {"Authorization": "Bearer OPERATOR"}
    if endpoint == "media":
        return "GET", f"/media/{number}", b"", headers
    if endpoint == "admin_login":
        return "POST", "/admin/login", {"name": draw(form_text), "password": draw(form_text)}, headers
    if endpoint == "static":
        return "GET", f"/static/{number}", b"", headers
    return "GET", "/healthz", b"", headers


def test_fuzzed_requests_never_get_a_server_error(tmp_path, postgres_url):
    runtime = make_runtime(tmp_path / "var", postgres_url, GRIDINTAKE_TWILIO_AUTH_TOKEN=TOKEN,
                           GRIDINTAKE_PLATFORM_SECRET=PLATFORM_SECRET,
                           GRIDINTAKE_SMS_GENERIC_SECRET=GENERIC_SECRET,
                           GRIDINTAKE_WECHAT_TOKEN="wechat-token")
    operator = add_user(runtime, "olga", "operator")
    case = file_report(runtime, text="淇滨大道与九州路交叉口的井盖坏了", lat=35.747, lon=114.297)
    numbers = [case["number"]]  # a real case for the case endpoints to find
    client = create_app(runtime).test_client()
    answers: Counter[int] = Counter()
    failures: list[str] = []

    @settings(max_examples=REQUESTS, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(a_request(numbers))
    def send(req) -> None:
        method, path, body, headers = req
        headers = {k: v.replace("OPERATOR", operator) for k, v in headers.items()}
        if isinstance(body, dict):
            answer = client.open(path, method=method, data=body, headers=headers)
        else:
            answer = client.open(path, method=method, data=body, headers=headers,
                                 content_type="application/json")
        answers[answer.status_code] += 1
        if answer.status_code >= 500:
            failures.append(f"{answer.status_code} {method} {path} {headers} {body!r:.300}: "
                            f"{answer.get_data(as_text=True)[:200]}")

    send()
    runtime.db.dispose()
    assert sum(answers.values()) >= 2000
    assert answers[200] >= 200, answers  # many got past the signatures to the validation behind
    assert not failures, "\n".join(sorted(set(failures))[:20])
