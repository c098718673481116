"""Shared pieces for the WeChat tests: the documented message XML, a local stand-in of the
WeChat API (token, media/get, custom and template messages, menu/create) over real HTTP, the
gateway served on a loopback port, and a resident who signs (and in safe mode encrypts) each
message with wechatpy's own functions."""

from __future__ import annotations

import io
import json
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
import xmltodict
from PIL import Image
from wechatpy.crypto import WeChatCrypto
from wechatpy.utils import WeChatSigner

from tests.conftest import make_runtime
from tests.support.serve import serving

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "wechat"
TOKEN = "gridintake-wechat-token"
APP_ID = "wx5823bf96d3bd56c7"
APP_SECRET = "3c5e1f0a9b8d7c6e5f4a3b2c1d0e9f8a"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"  # 43 characters, as the console makes
ERRORS = json.loads((FIXTURES / "api_errors.json").read_text("utf-8"))


def jpeg(size: tuple[int, int] = (64, 48)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (120, 90, 60)).save(out, format="JPEG")
    return out.getvalue()


def message_xml(name: str, **changes: str) -> str:
    """A fixture message with some fields changed (FromUserName, MsgId, Content, …)."""
    doc = xmltodict.parse((FIXTURES / name).read_text("utf-8"))
    doc["xml"].update(changes)
    return xmltodict.unparse(doc, full_document=False)


def signed_query(token: str = TOKEN, **extra: str) -> dict[str, str]:
    timestamp, nonce = str(int(time.time())), uuid.uuid4().hex[:10]
    signer = WeChatSigner()
    signer.add_data(token, timestamp, nonce)
    return {"signature": signer.signature, "timestamp": timestamp, "nonce": nonce, **extra}


@dataclass
class WeChatApi:
    """Answers like api.weixin.qq.com/cgi-bin: tokens it issued are valid until revoked."""

    start: object  # the local_server fixture's starter
    app_id: str = APP_ID
    issued: list[str] = field(default_factory=list)
    revoked: set[str] = field(default_factory=set)
    media: dict[str, tuple[bytes, str]] = field(default_factory=dict)
    media_delay_s: float = 0.0
    token_delay_s: float = 0.0
    fail_next: dict[str, str] = field(default_factory=dict)  # path → error name, answered once
    posted: dict[str, list[dict]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.server = self.start(self.respond)

    @property
    def base(self) -> str:
        return self.server.url + "/cgi-bin/"

    def _json(self, data: dict, status: int = 200):
        return status, {"Content-Type": "application/json"}, json.dumps(data, ensure_ascii=False).encode()

    def respond(self, seen):
        url = urlparse(seen.path)
        path, query = url.path.removeprefix("/cgi-bin/"), {k: v[0] for k, v in parse_qs(url.query).items()}
        if path == "token":
            time.sleep(self.token_delay_s)
            if (query.get("appid"), query.get("secret")) != (self.app_id, APP_SECRET):
                return self._json({"errcode": 40013, "errmsg": "invalid appid"})
            with self.lock:
                self.issued.append(f"ACCESS_TOKEN_{len(self.issued) + 1}")
                return self._json({"access_token": self.issued[-1], "expires_in": 7200})
        token = query.get("access_token")
        if token not in self.issued or token in self.revoked:
            return self._json(ERRORS["invalid_token"])
        if path in self.fail_next:
            return self._json(ERRORS[self.fail_next.pop(path)])
        if path == "media/get":
            time.sleep(self.media_delay_s)
            if query.get("media_id") not in self.media:
                return self._json(ERRORS["invalid_media"])
            data, mime = self.media[query["media_id"]]
            return 200, {"Content-Type": mime, "Content-Disposition": 'attachment; filename="a.jpg"'}, data
        self.posted.setdefault(path, []).append(json.loads(seen.body or b"{}"))
        if path == "message/template/send":
            return self._json({"errcode": 0, "errmsg": "ok", "msgid": 200228332})
        return self._json({"errcode": 0, "errmsg": "ok"})


@pytest.fixture
def wechat_api(local_server) -> WeChatApi:
    return WeChatApi(local_server)


def wechat_env(api: WeChatApi, **extra: str) -> dict[str, str]:
    return {"GRIDINTAKE_WECHAT_TOKEN": TOKEN, "GRIDINTAKE_WECHAT_APP_ID": APP_ID,
            "GRIDINTAKE_WECHAT_APP_SECRET": APP_SECRET, "GRIDINTAKE_WECHAT_AES_KEY": AES_KEY,
            "GRIDINTAKE_WECHAT_API_BASE": api.base, **extra}


@pytest.fixture
def wechat_runtime(tmp_path, wechat_api) -> Iterator:
    runtime = make_runtime(tmp_path / "var", **wechat_env(wechat_api))
    yield runtime
    runtime.db.dispose()


@pytest.fixture
def gateway_url(wechat_runtime) -> Iterator[str]:
    with serving(wechat_runtime) as url:
        yield url


class Follower:
    """A resident of the Official Account: WeChat's side of `POST /wechat`, signed (and in safe
    mode encrypted) as WeChat does it."""

    def __init__(self, url: str, openid: str = "oLVPpjqs9BhvzwPj5A-vTYAX3GLc", safe: bool = False):
        self.url, self.openid, self.n = url + "/wechat", openid, 0
        self.crypto = WeChatCrypto(TOKEN, AES_KEY, APP_ID) if safe else None

    def post(self, name: str = "text.xml", **changes: str) -> httpx.Response:
        self.n += 1
        changes.setdefault("FromUserName", self.openid)
        if name in ("text.xml", "image.xml", "location.xml", "voice.xml", "video.xml"):
            changes.setdefault("MsgId", str(uuid.uuid4().int % 10**17))
        body = message_xml(name, **changes)
        query = signed_query()
        if self.crypto is not None:
            sealed = xmltodict.parse(self.crypto.encrypt_message(body, query["nonce"], query["timestamp"]))
            query |= {"encrypt_type": "aes", "msg_signature": sealed["xml"]["MsgSignature"]}
            body = xmltodict.unparse({"xml": {"ToUserName": "gh_3f1b2c4d5e6f",
                                              "Encrypt": sealed["xml"]["Encrypt"]}}, full_document=False)
        return httpx.post(self.url, params=query, content=body.encode(),
                          headers={"Content-Type": "text/xml"}, timeout=10)

    def reply(self, resp: httpx.Response) -> str:
        """The passive reply's text ("" for WeChat's "success")."""
        assert resp.status_code == 200, resp.text
        if resp.text == "success":
            return ""
        doc = resp.text
        if self.crypto is not None:
            sealed = xmltodict.parse(doc)["xml"]
            doc = self.crypto.decrypt_message(doc, sealed["MsgSignature"], sealed["TimeStamp"],
                                              sealed["Nonce"])
        xml = xmltodict.parse(doc)["xml"]
        assert (xml["ToUserName"], xml["MsgType"]) == (self.openid, "text"), xml
        return xml["Content"]

    def say(self, text: str) -> str:
        return self.reply(self.post("text.xml", Content=text))
