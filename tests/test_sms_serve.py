"""The contract over real HTTP: `gridintake serve --port P` on loopback answers Twilio webhooks."""

from __future__ import annotations

import os
import re
import subprocess
import time

import httpx
import pytest

from gateway.runtime import local_secret
from tests.support.processes import GRIDINTAKE, serving
from tests.support.sms import TOKEN, sign, twilio_form

pytestmark = pytest.mark.slow  # starts gunicorn


@pytest.fixture
def served(tmp_path):
    env = {**os.environ, "GRIDINTAKE_DATA_DIR": str(tmp_path / "var"),
           "GRIDINTAKE_TWILIO_AUTH_TOKEN": TOKEN}
    env.pop("GRIDINTAKE_PUBLIC_URL", None)
    subprocess.run([str(GRIDINTAKE), "db", "upgrade"], env=env, check=True, capture_output=True)
    with serving(env, tmp_path / "serve.log") as (_, base):
        yield base


def test_signed_unsigned_and_replayed_webhooks_over_http(served):
    url = served + "/sms/twilio"
    form = twilio_form()
    signed = {"X-Twilio-Signature": sign(url, form)}
    first = httpx.post(url, data=form, headers=signed, timeout=30)
    assert first.status_code == 200
    assert first.headers["content-type"].startswith("text/xml")
    assert re.fullmatch(r'<\?xml version="1.0" encoding="UTF-8"\?><Response><Message>[^<]*回复1提交'
                        r"[^<]*</Message></Response>", first.text)
    assert httpx.post(url, data=form, timeout=30).status_code == 403
    assert httpx.post(url, data=form, headers={"X-Twilio-Signature": "AAAA"},
                      timeout=30).status_code == 403
    again = httpx.post(url, data=form, headers=signed, timeout=30)
    assert again.status_code == 200 and again.text == first.text
    english = twilio_form(Body="Garbage has not been collected on Jiuzhou Road for days",
                          From="+447700900123", MessageSid="SM" + "f" * 32)
    reply = httpx.post(url, data=english, headers={"X-Twilio-Signature": sign(url, english)},
                       timeout=30)
    text = re.search(r"<Message>(.*?)</Message>", reply.text, re.S).group(1)
    assert reply.status_code == 200 and re.match(r"[A-Z][a-z]+ ", text)
    assert not re.search(r"回复|请|。", text)  # the English template (place names stay Chinese)


def test_nothing_new_is_stored_by_refused_or_replayed_posts(served, tmp_path):
    import sqlalchemy as sa

    url = served + "/sms/twilio"
    form = twilio_form(MessageSid="SM" + "a" * 32)
    httpx.post(url, data=form, timeout=30)
    httpx.post(url, data=form, headers={"X-Twilio-Signature": sign(url, form)}, timeout=30)
    httpx.post(url, data=form, headers={"X-Twilio-Signature": sign(url, form)}, timeout=30)
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'var' / 'gridintake.db'}")
    with engine.connect() as conn:
        assert conn.execute(sa.text("select count(*) from inbound_message")).scalar() == 1
    engine.dispose()


def test_serve_runs_two_gunicorn_workers_that_load_their_models_at_boot(served, tmp_path):
    assert httpx.get(served + "/healthz", timeout=10).json()["ok"] is True
    log = tmp_path / "serve.log"
    deadline = time.monotonic() + 60
    while log.read_text().count("classifier and gazetteer loaded") < 2:
        assert time.monotonic() < deadline, log.read_text()
        time.sleep(0.1)
    assert "(2 gunicorn workers; no outbox worker" in log.read_text()
    assert log.read_text().count("Booting worker") == 2


def test_workers_share_one_secret_key_kept_in_the_data_directory(tmp_path):
    """Without GRIDINTAKE_SECRET_KEY every worker signs admin sessions with the same key."""
    first, again = local_secret(tmp_path / "var"), local_secret(tmp_path / "var")
    assert first == again and len(first) == 32
    assert (tmp_path / "var" / "secret_key").stat().st_mode & 0o777 == 0o600
    assert local_secret(tmp_path / "elsewhere") != first
