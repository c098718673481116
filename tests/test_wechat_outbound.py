"""WeChat out: customer-service messages in the 48-hour window, template messages after it,
one access_token for every process (database or Redis), and the custom menu pushed."""

from __future__ import annotations

import json
import threading
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import update

from bot.handlers.wechat import outbound
from cases.outbox import RecipientUnreachable, enqueue
from gateway.cli import main as cli
from gateway.runtime import Runtime
from settings.config import load_config
from storage.db import transaction
from storage.models import ChannelToken, InboundMessage, Outbox, utcnow
from tests.conftest import make_runtime
from tests.support.services import REDIS_URL, require_redis
from tests.support.wechat import message_xml, wechat_env

OPENID = "oLVPpjqs9BhvzwPj5A-vTYAX3GLc"
NOTICE = "您反映的案件GI-20261205-000001已派遣处理。"


def _notice(runtime, key: str = "n1") -> Outbox:
    with transaction(runtime.sessions) as session:
        return enqueue(session, sink="wechat", target=OPENID, key=key,
                       payload={"text": NOTICE, "case": "GI-20261205-000001", "choices": []})


def _heard_from(runtime, hours_ago: float) -> None:
    inbound = message_xml("text.xml")
    with transaction(runtime.sessions) as session:
        session.add(InboundMessage(channel="wechat", idempotency_key=f"k{hours_ago}", sender=OPENID,
                                   kind="text", text="帮助", payload={"raw": inbound},
                                   status="processed", received_at=utcnow() - timedelta(hours=hours_ago)))


def test_within_the_window_a_customer_service_message(wechat_runtime, wechat_api):
    _heard_from(wechat_runtime, hours_ago=47)
    assert outbound.send(wechat_runtime, _notice(wechat_runtime)) == {"via": "custom"}
    assert wechat_api.posted["message/custom/send"] == [
        {"touser": OPENID, "msgtype": "text", "text": {"content": NOTICE}}]


@pytest.mark.parametrize("hours_ago", [49, None], ids=["window-over", "never-wrote"])
def test_after_the_window_the_approved_template(tmp_path, wechat_api, hours_ago):
    env = wechat_env(wechat_api, GRIDINTAKE_WECHAT_TEMPLATE_ID="tmpl-case-progress")
    runtime = make_runtime(tmp_path / "var", **env)
    if hours_ago is not None:
        _heard_from(runtime, hours_ago)
    assert outbound.send(runtime, _notice(runtime))["via"] == "template"
    sent = wechat_api.posted["message/template/send"][0]
    assert (sent["touser"], sent["template_id"]) == (OPENID, "tmpl-case-progress")
    assert sent["data"]["character_string1"] == {"value": "GI-20261205-000001"}
    assert sent["data"]["thing2"]["value"] == NOTICE[:20]
    assert "message/custom/send" not in wechat_api.posted


def test_wechat_closing_the_window_falls_back_to_the_template(tmp_path, wechat_api):
    runtime = make_runtime(tmp_path / "var", **wechat_env(wechat_api, GRIDINTAKE_WECHAT_TEMPLATE_ID="tmpl-1"))
    _heard_from(runtime, hours_ago=1)
    wechat_api.fail_next["message/custom/send"] = "out_of_window"
    assert outbound.send(runtime, _notice(runtime))["via"] == "template"


def test_an_unfollowed_resident_is_unreachable(wechat_runtime, wechat_api):
    _heard_from(wechat_runtime, hours_ago=1)
    wechat_api.fail_next["message/custom/send"] = "unfollowed"
    with pytest.raises(RecipientUnreachable):
        outbound.send(wechat_runtime, _notice(wechat_runtime))


def _runtimes(tmp_path, api, n: int, database_url: str | None = None, **extra: str) -> list[Runtime]:
    """``n`` processes' runtimes on one database."""
    first = make_runtime(tmp_path / "var", database_url, **wechat_env(api, **extra))
    env = {"GRIDINTAKE_DATA_DIR": str(tmp_path / "var"), **wechat_env(api, **extra)}
    if database_url:
        env["GRIDINTAKE_DATABASE_URL"] = database_url
    return [first] + [Runtime(load_config(env=env)) for _ in range(n - 1)]


@pytest.mark.parametrize("storage", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres),
                                     "redis"])
def test_one_token_for_every_process_refreshed_once(tmp_path, wechat_api, storage, request):
    extra, database_url = {}, None
    if storage == "postgres":
        database_url = request.getfixturevalue("postgres_url")
    if storage == "redis":
        require_redis()
        wechat_api.app_id = f"wx{uuid.uuid4().hex[:16]}"  # a key no other test run shares
        extra = {"GRIDINTAKE_WECHAT_TOKEN_STORAGE": REDIS_URL, "GRIDINTAKE_WECHAT_APP_ID": wechat_api.app_id}
    runtimes = _runtimes(tmp_path, wechat_api, 4, database_url, **extra)
    wechat_api.token_delay_s = 0.3  # all four ask while the first fetch is in flight
    threads = [threading.Thread(target=lambda r=r: r.wechat.menu.get()) for r in runtimes]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert wechat_api.issued == ["ACCESS_TOKEN_1"]
    # WeChat voids the token (40001): one process refreshes, the others use the new one.
    wechat_api.revoked.add("ACCESS_TOKEN_1")
    runtimes[0].wechat.menu.get()
    runtimes[1].wechat.menu.get()
    assert wechat_api.issued == ["ACCESS_TOKEN_1", "ACCESS_TOKEN_2"]
    for runtime in runtimes:
        runtime.db.dispose()


def test_an_expiring_token_is_refreshed_before_wechat_refuses_it(wechat_runtime, wechat_api):
    wechat_runtime.wechat.menu.get()
    with transaction(wechat_runtime.sessions) as session:
        session.execute(update(ChannelToken).values(expires_at=utcnow() + timedelta(seconds=60)))
    wechat_runtime.wechat.menu.get()
    assert wechat_api.issued == ["ACCESS_TOKEN_1", "ACCESS_TOKEN_2"]


def test_menu_push_sends_the_menu_without_our_commands(wechat_runtime, wechat_api, monkeypatch, capsys):
    for name, value in wechat_env(wechat_api).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("GRIDINTAKE_DATA_DIR", str(wechat_runtime.config.data_dir))
    assert cli(["wechat", "menu", "push"]) == 0
    pushed = wechat_api.posted["menu/create"][0]
    assert [b["name"] for b in pushed["button"]] == ["我要上报", "我的案件", "帮助"]
    assert pushed["button"][0] == {"type": "click", "name": "我要上报", "key": "REPORT"}
    assert "command" not in json.dumps(pushed)
    wechat_api.fail_next["menu/create"] = "busy"
    assert cli(["wechat", "menu", "push"]) == 1
    assert "system error" in capsys.readouterr().err
