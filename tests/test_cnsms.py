"""Mainland SMS (Aliyun, Tencent Cloud) over real HTTP: residents' replies pushed to the gateway
become a conversation, its answers go out as approved templates through each provider's SDK to a
local stand-in, delivery receipts land on the outbox rows, 退订 becomes an opt-out."""

from __future__ import annotations

import copy
import json
import re

import httpx
import pytest
from sqlalchemy import select

from bot.handlers.cnsms.templates import TemplateError, fill
from gateway.forwarding.worker import Worker
from storage.db import transaction
from storage.models import InboundMessage, Outbox, Reporter
from tests.support.cnsms import CALLBACK_TOKEN, payload
from tests.support.serve import serving

PHONE = "+8613800001234"
NUMBER = re.compile(r"GI-\d{8}-\d{6}")


class Resident:
    """A mainland mobile texting the city's number; the provider pushes each text to us."""

    def __init__(self, url: str, provider: str) -> None:
        self.url, self.provider, self.n = url, provider, 0

    def text(self, content: str, *, again: bool = False) -> httpx.Response:
        self.n += 0 if again else 1
        if self.provider == "aliyun":
            item = payload("aliyun_sms_up.json")[0] | {"content": content,
                                                       "sequence_id": 1234567000 + self.n}
            body = [item]
        else:
            body = payload("tencent_reply.json") | {"text": content, "time": 1764918131 + self.n}
        return httpx.post(f"{self.url}/sms/{self.provider}/up", params={"token": CALLBACK_TOKEN},
                          json=body, timeout=30)


def rows(runtime) -> list[Outbox]:
    with transaction(runtime.sessions) as session:
        return session.scalars(select(Outbox).order_by(Outbox.id)).all()


def deliver(runtime) -> dict[str, int]:
    return Worker(runtime).run_once()


def template_of(provider: str, sent: dict) -> tuple[str, list[str]]:
    if provider == "aliyun":
        return sent["TemplateCode"], list(json.loads(sent.get("TemplateParam") or "{}").values())
    return sent["TemplateId"], sent["TemplateParamSet"]


@pytest.mark.parametrize("provider", ["aliyun", "tencent"])
def test_a_report_by_sms_replies_is_answered_with_approved_templates(
        cnsms_runtime, aliyun_api, tencent_api, provider):
    api = {"aliyun": aliyun_api, "tencent": tencent_api}[provider]
    with serving(cnsms_runtime) as url:
        resident = Resident(url, provider)
        ack = resident.text("淇滨大道与九州路交叉口的井盖坏了")
        assert ack.json() == ({"code": 0, "msg": "成功"} if provider == "aliyun"
                              else {"result": 0, "errmsg": "OK"})
        assert deliver(cnsms_runtime)["done"] == 1
        code, params = template_of(provider, api.sent[-1])
        assert code == {"aliyun": "SMS_480100009", "tencent": "2210009"}[provider]  # confirm
        assert len(params) == 2 and "淇滨大道" in params[1]
        resident.text("1")
        assert deliver(cnsms_runtime)["done"] == 1
        code, params = template_of(provider, api.sent[-1])
        assert code == {"aliyun": "SMS_480100010", "tencent": "2210010"}[provider]  # filed
        assert NUMBER.fullmatch(params[0])
    sent = api.sent[-1]
    if provider == "aliyun":
        assert (sent["action"], sent["PhoneNumbers"]) == ("SendSms", "13800001234")
        assert sent["SignName"] == "鹤壁城管"
        assert sent["OutId"] == str(rows(cnsms_runtime)[-1].id)
    else:
        assert (sent["action"], sent["PhoneNumberSet"], sent["SignName"]) == ("SendSms", [PHONE], "鹤壁城管")
        assert sent["SmsSdkAppId"] == "1400787878"
    with transaction(cnsms_runtime.sessions) as session:
        reporter = session.scalar(select(Reporter))
        assert (reporter.channel, reporter.phone) == (f"{provider}_sms", PHONE)


@pytest.mark.parametrize("provider", ["aliyun", "tencent"])
def test_a_reply_pushed_again_is_stored_and_answered_once(cnsms_runtime, provider):
    with serving(cnsms_runtime) as url:
        resident = Resident(url, provider)
        resident.text("帮助")
        resident.text("帮助", again=True)
    with transaction(cnsms_runtime.sessions) as session:
        assert len(session.scalars(select(InboundMessage)).all()) == 1
    assert [r.payload["template"]["key"] for r in rows(cnsms_runtime)] == ["help"]


@pytest.mark.parametrize("provider", ["aliyun", "tencent"])
def test_receipts_mark_delivery_and_failures_are_dead_letters(cnsms_runtime, provider):
    with serving(cnsms_runtime) as url:
        resident = Resident(url, provider)
        resident.text("帮助")
        resident.text("我的案件")
        deliver(cnsms_runtime)
        first, second = rows(cnsms_runtime)
        if provider == "aliyun":
            good = payload("aliyun_sms_report.json")[0] | {"out_id": str(first.id)}
            bad = copy.deepcopy(good) | {"out_id": str(second.id), "success": False,
                                         "err_code": "MN:0001", "err_msg": "空号"}
        else:
            good = payload("tencent_report.json")[0] | {"sid": first.result["serial_no"]}
            bad = good | {"sid": second.result["serial_no"], "report_status": "FAIL",
                          "errmsg": "MN:0001", "description": "空号"}
        resp = httpx.post(f"{url}/sms/{provider}/report", params={"token": CALLBACK_TOKEN},
                          json=[good, bad])
        assert resp.status_code == 200
    first, second = rows(cnsms_runtime)
    assert (first.status, first.result["delivery"]["state"]) == ("done", "delivered")
    assert (second.status, second.result["delivery"]["state"]) == ("dead", "failed")
    assert "MN:0001" in second.last_error and "空号" in second.last_error


@pytest.mark.parametrize("provider", ["aliyun", "tencent"])
def test_td_opts_out_and_the_providers_blacklist_code_does_too(
        cnsms_runtime, aliyun_api, tencent_api, provider):
    with serving(cnsms_runtime) as url:
        resident = Resident(url, provider)
        resident.text("帮助")
        resident.text("TD")

        def unreachable() -> bool:
            with transaction(cnsms_runtime.sessions) as session:
                return session.scalar(select(Reporter.unreachable))

        assert unreachable()
        deliver(cnsms_runtime)
        assert [r.result for r in rows(cnsms_runtime)] == [{"skipped": "unreachable"}]
        sent_before = len(aliyun_api.sent) + len(tencent_api.sent)
        resident.text("订阅")
        assert not unreachable()
        {"aliyun": aliyun_api, "tencent": tencent_api}[provider].answer = "blacklisted"
        resident.text("帮助")
        outcome = deliver(cnsms_runtime)
        assert outcome["unreachable"] == 1 and unreachable()
        assert len(aliyun_api.sent) + len(tencent_api.sent) == sent_before + 1


def test_callbacks_need_the_token_an_enabled_provider_and_json(cnsms_runtime, tmp_path):
    with serving(cnsms_runtime) as url:
        up = f"{url}/sms/aliyun/up"
        body = payload("aliyun_sms_up.json")
        assert httpx.post(up, json=body).status_code == 403
        assert httpx.post(up, params={"token": "guess"}, json=body).status_code == 403
        bad = httpx.post(up, params={"token": CALLBACK_TOKEN}, content=b"[{")
        assert bad.status_code == 400
        missing = httpx.post(up, params={"token": CALLBACK_TOKEN}, json=[{"content": "hi"}])
        assert missing.status_code == 400
        assert httpx.post(f"{url}/sms/other/up", json=body).status_code == 404
    with transaction(cnsms_runtime.sessions) as session:
        assert session.scalars(select(InboundMessage)).all() == []


@pytest.mark.parametrize(("provider", "value", "error"), [
    ("aliyun", "淇" * 36, "36 characters; aliyun allows 35"),
    ("tencent", "淇" * 27, "27 characters; tencent allows 26"),
    ("aliyun", "see http://x.cn", "'http://'"),
    ("tencent", "【鹤壁】", "'【'"),
])
def test_parameters_are_checked_against_the_providers_limits(provider, value, error):
    assert fill(provider, {"key": "confirm", "values": {"category": "井盖", "place": "淇" * 20}}).params
    with pytest.raises(TemplateError, match=re.escape(error)):
        fill(provider, {"key": "confirm", "values": {"category": "井盖", "place": value}})


def test_a_case_number_must_be_letters_and_digits_and_a_reply_must_have_a_template():
    with pytest.raises(TemplateError, match="allows only"):
        fill("aliyun", {"key": "filed", "values": {"number": "GI 2026/1"}})
    with pytest.raises(TemplateError, match="no approved tencent template for the reply 'pick_category'"):
        fill("tencent", {"key": "pick_category", "values": {"options": "1 井盖"}})
