"""Two hosts, one city, as real processes: two gateways (`gridintake serve`) with data
directories of their own and two outbox workers, on one PostgreSQL, one Redis and the database
media store. A photo texted to A is served by B, a resident's limit counts across both
gateways, and two workers deliver every outbox row exactly once."""

from __future__ import annotations

import base64
import io
import os
import re
import subprocess
import time
from collections import Counter
from contextlib import ExitStack
from urllib.parse import parse_qs

import httpx
import pytest
from PIL import Image
from sqlalchemy import select

from cases.media_links import signed_media_url
from storage.db import transaction
from storage.models import Attachment, Case, Outbox
from tests.conftest import make_runtime
from tests.support.processes import GRIDINTAKE, serving, wait_for
from tests.support.services import REDIS_URL, require_redis
from tests.support.sms import ACCOUNT, TOKEN, sign, twilio_api, twilio_form

pytestmark = [pytest.mark.slow, pytest.mark.postgres]
SECRET = "the city's one secret"
MEDIA_PATH = f"/2010-04-01/Accounts/{ACCOUNT}/Messages/MM1/Media/ME1"
TOO_FAST = "您发送得太快了，请稍后再试。"


def _jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (90, 120, 60)).save(out, format="JPEG")
    return out.getvalue()


def _text(base: str, phone: str, sid: str, body: str, **extra: str) -> str:
    url = base + "/sms/twilio"
    form = twilio_form("inbound_mms.json" if extra else "inbound_text.json", From=phone,
                       MessageSid=sid, Body=body, **extra)
    answer = httpx.post(url, data=form, headers={"X-Twilio-Signature": sign(url, form)}, timeout=60)
    assert answer.status_code == 200, answer.text
    return " ".join(re.findall(r"<Message>(.*?)</Message>", answer.text, re.S))


def test_two_gateways_and_two_workers_share_one_city(tmp_path, postgres_url, local_server):
    require_redis()
    photo = _jpeg()
    basic = "Basic " + base64.b64encode(f"{ACCOUNT}:{TOKEN}".encode()).decode()
    api = twilio_api(local_server)  # Twilio's REST API and, on GET, its media store
    create = api.respond
    api.respond = lambda seen: create(seen) if seen.method == "POST" else (
        (200, {"Content-Type": "image/jpeg"}, photo) if seen.headers.get("Authorization") == basic
        else (401, {}, b""))
    platform = local_server(lambda seen: (200, {"Content-Type": "application/json"}, b"{}"))
    common = {"GRIDINTAKE_DATABASE_URL": postgres_url, "GRIDINTAKE_SECRET_KEY": SECRET,
              "GRIDINTAKE_RATE_LIMIT_STORAGE": REDIS_URL, "GRIDINTAKE_LIMITS_PER_SENDER": "4/minute",
              "GRIDINTAKE_TWILIO_AUTH_TOKEN": TOKEN, "GRIDINTAKE_TWILIO_ACCOUNT_SID": ACCOUNT,
              "GRIDINTAKE_TWILIO_FROM": "+14155550100", "GRIDINTAKE_TWILIO_API_BASE": api.url,
              "GRIDINTAKE_SMS_MEDIA_HOSTS": "127.0.0.1", "GRIDINTAKE_WEBHOOK_URL": platform.url + "/hook",
              "GRIDINTAKE_WEBHOOK_SECRET": "hook-secret", "GRIDINTAKE_SERVER_WORKERS": "1",
              "GRIDINTAKE_SERVER_THREADS": "4"}
    runtime = make_runtime(tmp_path / "check", postgres_url, **common)  # migrates; reads the database
    assert runtime.media.name == "database"
    env_a, env_b = ({**os.environ, **common, "GRIDINTAKE_DATA_DIR": str(tmp_path / name)}
                    for name in ("a", "b"))
    suffix = int(time.time() * 1000) % 10**8
    resident, flooder = f"+86138{suffix:08d}", f"+86139{suffix:08d}"
    with ExitStack() as stack:
        _, a = stack.enter_context(serving(env_a, tmp_path / "a.log"))
        _, b = stack.enter_context(serving(env_b, tmp_path / "b.log"))
        workers = [subprocess.Popen([str(GRIDINTAKE), "worker"], env=env, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL) for env in (env_a, env_b)]
        stack.callback(lambda: [(w.terminate(), w.wait(timeout=30)) for w in workers])

        # A photo and its description texted to A; the resident confirms through B.
        first = _text(a, resident, "MM" + "a" * 32, "淇滨大道与九州路交叉口的井盖坏了",
                      NumMedia="1", MediaUrl0=api.url + MEDIA_PATH, MediaContentType0="image/jpeg")
        assert "1" in first, first
        filed = _text(b, resident, "SM" + "b" * 32, "1")
        numbers = re.findall(r"GI-\d{8}-\d+", filed)
        assert numbers, filed
        number = numbers[0]
        with transaction(runtime.sessions) as session:
            case = session.scalar(select(Case).where(Case.number == number))
            digest = session.scalar(select(Attachment.sha256).where(Attachment.case_id == case.id))
        assert digest and not (tmp_path / "b" / "photos").exists()
        served = httpx.get(signed_media_url(b, SECRET.encode(), digest, 60), timeout=30)
        assert served.status_code == 200 and served.headers["content-type"] == "image/jpeg"
        assert served.content[:2] == b"\xff\xd8"

        # One resident's limit (4 a minute) counts across both gateways.
        replies = [_text((a, b)[n % 2], flooder, f"SM{n:032d}", "帮助") for n in range(5)]
        assert TOO_FAST not in "".join(replies[:4]) and replies[4] == TOO_FAST

        # Both workers drain the outbox; each row reached its receiver once.
        def drained() -> bool:
            with transaction(runtime.sessions) as session:
                return all(row.status == "done" for row in session.scalars(select(Outbox)))
        wait_for("both workers to deliver every outbox row", drained, timeout=120)
    with transaction(runtime.sessions) as session:
        rows = list(session.scalars(select(Outbox)))
    hooks = [s for s in platform.requests if s.path == "/hook"]
    texts = [parse_qs(s.body.decode()) for s in api.requests if s.method == "POST"]
    assert len(hooks) == sum(r.sink == "webhook" for r in rows) >= 1
    assert len(texts) == sum(r.sink == "sms" for r in rows)
    assert max(Counter(s.headers.get("Idempotency-Key", s.body) for s in hooks).values()) == 1
    runtime.db.dispose()
