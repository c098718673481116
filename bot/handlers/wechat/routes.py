"""`GET /wechat` (server verification) and `POST /wechat` (messages and events), plaintext or
safe mode (`encrypt_type=aes`, the EncodingAESKey in GRIDINTAKE_WECHAT_AES_KEY).

The Official Account signs the URL in every mode (`signature` over token, timestamp, nonce); in
safe mode the body is also signed (`msg_signature`) and encrypted, and so is our reply. Order of
checks: size, signatures, the XML, the per-sender rate limit, then the message is stored and
handled. A refused request stores nothing.
"""

from __future__ import annotations

import binascii
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from xml.parsers.expat import ExpatError

import xmltodict
from flask import Blueprint, Response, current_app, request
from wechatpy.crypto import WeChatCrypto
from wechatpy.exceptions import InvalidAppIdException, InvalidSignatureException
from wechatpy.replies import TextReply
from wechatpy.utils import check_signature

from bot.handlers.wechat import handler
from bot.handlers.wechat.incoming import CHANNEL, read
from bot.inbox import Refusal
from bot.rate_limits import SenderLimiter
from storage.text import storable

log = logging.getLogger(__name__)
bp = Blueprint("wechat", __name__)
MAX_REQUEST_BYTES = 64 * 1024  # a message's XML is a few hundred bytes; images come by media id
REQUIRED = ("ToUserName", "FromUserName", "CreateTime", "MsgType")
_pool_lock = threading.Lock()


def _text(body: str, status: int = 200) -> Response:
    return Response(body, status=status, mimetype="text/plain")


def _pool() -> ThreadPoolExecutor:
    with _pool_lock:
        pool = current_app.extensions.get("wechat_pool")
        if pool is None:
            pool = ThreadPoolExecutor(handler.WORKERS, thread_name_prefix="wechat")
            current_app.extensions["wechat_pool"] = pool
        return pool


def _signed(token: str) -> bool:
    args = request.args
    try:
        check_signature(token, args.get("signature", ""), args.get("timestamp", ""),
                        args.get("nonce", ""))
    except InvalidSignatureException:
        return False
    return True


def _crypto(config) -> WeChatCrypto | None:
    key, app_id = config.secret("WECHAT_AES_KEY"), config.secret("WECHAT_APP_ID")
    if not (key and app_id):
        return None
    return WeChatCrypto(config.secret("WECHAT_TOKEN"), key, app_id)


@bp.get("/wechat")
def verify():
    """WeChat checks the URL once when it is saved in the console: echo `echostr` if signed."""
    token = current_app.config["RUNTIME"].config.secret("WECHAT_TOKEN")
    if not token:
        return _text("WeChat is not configured: set GRIDINTAKE_WECHAT_TOKEN\n", 503)
    if not all(request.args.get(n) for n in ("signature", "timestamp", "nonce", "echostr")):
        return _text("signature, timestamp, nonce and echostr are required\n", 400)
    if not _signed(token):
        return _text("invalid signature\n", 403)
    return _text(request.args["echostr"])


def _message(config, body: bytes) -> tuple[dict, WeChatCrypto | None] | Response:
    """The message as a dict and the crypto to answer with (safe mode), or the refusal."""
    crypto = None
    if request.args.get("encrypt_type", "raw") == "aes":
        crypto = _crypto(config)
        if crypto is None:
            return _text("safe mode needs GRIDINTAKE_WECHAT_AES_KEY and GRIDINTAKE_WECHAT_APP_ID\n", 503)
        args = request.args
        try:
            body = crypto.decrypt_message(body, args.get("msg_signature", ""),
                                          args.get("timestamp", ""), args.get("nonce", ""))
        except (InvalidSignatureException, InvalidAppIdException):
            return _text("invalid message signature\n", 403)
        except (ExpatError, KeyError, ValueError, TypeError, binascii.Error):
            return _text("the encrypted message cannot be read\n", 400)
    try:
        msg = xmltodict.parse(body)["xml"]
    except (ExpatError, KeyError, TypeError):
        return _text("the body is not WeChat's message XML\n", 400)
    if not isinstance(msg, dict) or not all(isinstance(msg.get(n), str) for n in REQUIRED):
        return _text(f"a message needs {', '.join(REQUIRED)}\n", 400)
    return storable(msg), crypto


@bp.post("/wechat")
def receive():
    if (request.content_length or 0) > MAX_REQUEST_BYTES:
        return _text("request too large for a WeChat message\n", 413)
    runtime = current_app.config["RUNTIME"]
    token = runtime.config.secret("WECHAT_TOKEN")
    if not token:
        return _text("WeChat is not configured: set GRIDINTAKE_WECHAT_TOKEN\n", 503)
    if not _signed(token):
        return _text("invalid signature\n", 403)
    parsed = _message(runtime.config, request.get_data(cache=False))
    if isinstance(parsed, Response):
        return parsed
    msg, crypto = parsed
    try:
        incoming = read(msg)
    except (KeyError, ValueError) as exc:
        return _text(f"unreadable {msg['MsgType']} message: {exc}\n", 400)
    if SenderLimiter.for_app(current_app).allow(CHANNEL, incoming.inbound.sender):
        replies = handler.answer(runtime, _pool(), incoming)
    else:
        replies = handler.refuse(runtime, incoming, Refusal.rate_limited)
    if not replies:
        return _text("success")  # WeChat's "received, nothing to say now"
    xml = TextReply(source=msg["ToUserName"], target=msg["FromUserName"],
                    content=handler.render(replies)).render()
    if crypto is not None:
        xml = crypto.encrypt_message(xml, request.args.get("nonce", ""))
    return Response(xml, mimetype="application/xml")

