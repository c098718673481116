"""Shared pieces for the mainland SMS tests: the providers' documented payloads, local stand-ins
of the Aliyun and Tencent Cloud SMS APIs over real HTTP (their SDKs pointed at them), a runtime
with both providers on, and the callbacks posted with the token."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest

from tests.conftest import make_runtime

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "cnsms"
CALLBACK_TOKEN = "cnsms-callback-token-7f3a"


def payload(name: str) -> dict | list:
    return json.loads((FIXTURES / name).read_text("utf-8"))


@dataclass
class SmsApi:
    """One provider's SendSms: answers with a documented fixture and keeps what it was sent."""

    start: object
    provider: str  # aliyun | tencent
    answer: str = "ok"  # the fixture: <provider>_send_<answer>.json
    sent: list[dict] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.server = self.start(self.respond)

    @property
    def endpoint(self) -> str:
        return self.server.url.removeprefix("http://")

    def respond(self, seen):
        if self.provider == "aliyun":
            sent = {k: v[0] for k, v in parse_qs(urlparse(seen.path).query).items()}
            sent["action"] = seen.headers.get("x-acs-action")
        else:
            sent = json.loads(seen.body) | {"action": seen.headers.get("X-TC-Action")}
        self.sent.append(sent)
        answer = copy.deepcopy(payload(f"{self.provider}_send_{self.answer}.json"))
        if self.provider == "tencent" and self.answer == "ok":
            answer["Response"]["SendStatusSet"][0]["SerialNo"] = f"2640:{len(self.sent):030d}"
        return 200, {"Content-Type": "application/json"}, json.dumps(answer).encode()


@pytest.fixture
def aliyun_api(local_server) -> SmsApi:
    return SmsApi(local_server, "aliyun")


@pytest.fixture
def tencent_api(local_server) -> SmsApi:
    return SmsApi(local_server, "tencent")


@pytest.fixture
def cnsms_runtime(tmp_path, aliyun_api, tencent_api) -> Iterator:
    runtime = make_runtime(
        tmp_path / "var", GRIDINTAKE_CNSMS_PROVIDERS="aliyun,tencent",
        GRIDINTAKE_CNSMS_SIGN_NAME="鹤壁城管", GRIDINTAKE_CNSMS_PROTOCOL="http",
        GRIDINTAKE_CNSMS_ALIYUN_ENDPOINT=aliyun_api.endpoint,
        GRIDINTAKE_CNSMS_TENCENT_ENDPOINT=tencent_api.endpoint,
        GRIDINTAKE_CNSMS_TENCENT_SDK_APP_ID="1400787878",
        GRIDINTAKE_ALIYUN_ACCESS_KEY_ID="LTAI5tTestKeyId", GRIDINTAKE_ALIYUN_ACCESS_KEY_SECRET="secret",
        GRIDINTAKE_TENCENT_SECRET_ID="AKIDtestsecretid", GRIDINTAKE_TENCENT_SECRET_KEY="secret",
        GRIDINTAKE_CNSMS_CALLBACK_TOKEN=CALLBACK_TOKEN)
    runtime.classify("路灯不亮")
    yield runtime
    runtime.db.dispose()
