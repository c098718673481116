"""The Telegram harness end to end: a real python-telegram-bot Application over HTTP.

The echo bot here exists only to prove the harness; the product bot has its own tests.
"""

from __future__ import annotations

import hashlib
import io
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import numpy as np
import pytest
from PIL import Image
from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    ReplyKeyboardMarkup,
    Update,
)
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from tests.tgemu.updates import fix_update

pytestmark = pytest.mark.emulator


async def on_start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    keyboard = ReplyKeyboardMarkup(
        [[KeyboardButton("发送位置", request_location=True)], ["取消"]],
        resize_keyboard=True,
        one_time_keyboard=True,
    )
    await update.effective_message.reply_text("请发送位置", reply_markup=keyboard)


async def on_menu(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    buttons = [[InlineKeyboardButton("道路", callback_data="cat:road")],
               [InlineKeyboardButton("绿化", callback_data="cat:green")]]
    await update.effective_message.reply_text(
        "选择类别", reply_markup=InlineKeyboardMarkup(buttons)
    )


async def on_pick(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    await query.answer(f"已选 {query.data}")
    await query.edit_message_text(f"picked {query.data} in chat {query.message.chat.id}")


async def on_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    await context.bot.send_chat_action(update.effective_chat.id, "typing")
    await update.effective_message.reply_text(f"echo: {update.effective_message.text}")


async def on_location(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    location = update.effective_message.location
    await update.effective_message.reply_text(f"{location.latitude:.6f},{location.longitude:.6f}")


async def on_photo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    largest = max(update.effective_message.photo, key=lambda p: p.width * p.height)
    buffer = io.BytesIO()
    await (await largest.get_file()).download_to_memory(buffer)
    blob = buffer.getvalue()
    await update.effective_message.reply_text(
        f"{hashlib.sha256(blob).hexdigest()} {len(blob)} {largest.width}x{largest.height}"
    )


def echo_bot(tg) -> Application:
    app = tg.application_builder().build()
    app.add_handler(CommandHandler("start", on_start))
    app.add_handler(CommandHandler("menu", on_menu))
    app.add_handler(CallbackQueryHandler(on_pick, pattern=r"^cat:"))
    app.add_handler(MessageHandler(filters.LOCATION, on_location))
    app.add_handler(MessageHandler(filters.PHOTO, on_photo))
    app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, on_text))
    return app


def photo_bytes(width: int = 640, height: int = 480) -> bytes:
    pixels = np.random.default_rng(7).integers(0, 255, (height, width, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "JPEG")
    return buffer.getvalue()


def bot_api(tg, method: str, **params) -> httpx.Response:
    return httpx.post(f"{tg.api.base_url}{tg.token}/{method}", data=params, timeout=10)


# -- through python-telegram-bot -----------------------------------------------------


def test_text_in_reply_out_with_true_message_fields(tg, resident):
    with tg.run(echo_bot(tg)):
        resident.send_text("路灯坏了")
        reply = resident.wait_reply()
    assert reply.text == "echo: 路灯坏了"
    assert reply.message["from"]["is_bot"] is True
    assert reply.message["chat"] == resident.chat
    assert abs(reply.message["date"] - time.time()) < 60  # seconds, not milliseconds
    assert [c.params["action"] for c in tg.api.calls_of("sendChatAction")] == ["typing"]


def test_reply_keyboard_requesting_location_is_recorded(tg, resident):
    with tg.run(echo_bot(tg)):
        resident.send_text("/start")
        reply = resident.wait_reply()
    assert reply.text == "请发送位置"
    assert reply.keyboard_buttons == [
        {"text": "发送位置", "request_location": True},
        {"text": "取消"},
    ]
    assert reply.reply_markup["one_time_keyboard"] is True
    assert "reply_markup" not in reply.message  # a Message only carries inline keyboards


def test_location_pin_arrives_as_wgs84(tg, resident):
    with tg.run(echo_bot(tg)):
        resident.send_location(31.230416, 121.473701, horizontal_accuracy=12.5)
        reply = resident.wait_reply()
    assert reply.text == "31.230416,121.473701"
    update = next(u for u in tg.api.seen_updates if "message" in u)
    assert update["message"]["location"] == {
        "latitude": 31.230416, "longitude": 121.473701, "horizontal_accuracy": 12.5
    }


def test_photo_bytes_download_through_get_file(tg, resident):
    original = photo_bytes()
    with tg.run(echo_bot(tg)):
        sent = resident.send_photo(original, caption="井盖缺失")
        reply = resident.wait_reply()
    assert reply.text == f"{hashlib.sha256(original).hexdigest()} {len(original)} 640x480"
    sizes = sent["photo"]
    assert [max(s["width"], s["height"]) for s in sizes] == [90, 320, 640]
    assert all(
        set(s) == {"file_id", "file_unique_id", "file_size", "width", "height"} for s in sizes
    )


def test_inline_button_press_reaches_callback_handler(tg, resident):
    with tg.run(echo_bot(tg)):
        resident.send_text("/menu")
        menu = resident.wait_reply()
        assert [b["callback_data"] for b in menu.inline_buttons] == ["cat:road", "cat:green"]
        assert resident.press("绿化") == "cat:green"
        answer = resident.wait_callback_answer()
        tg.api.wait_for(lambda: menu.edits, timeout=5)
    assert answer["text"] == "已选 cat:green"
    assert menu.text == f"picked cat:green in chat {resident.chat_id}"
    assert menu.inline_buttons == []  # editMessageText without markup drops the keyboard
    query = next(u["callback_query"] for u in tg.api.seen_updates if "callback_query" in u)
    assert query["chat_instance"] and query["message"]["message_id"] == menu.message_id


def test_two_residents_get_their_own_replies(tg):
    first, second = tg.resident(), tg.resident(language_code="en", first_name="Ann")
    with tg.run(echo_bot(tg)):
        first.send_text("一")
        second.send_text("two")
        assert second.wait_reply().text == "echo: two"
        assert first.wait_reply().text == "echo: 一"
        first.assert_no_reply(within=0.3)


def test_handler_errors_fail_the_runner(tg, resident):
    app = tg.application_builder().build()

    async def broken(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        raise RuntimeError("handler broke")

    app.add_handler(MessageHandler(filters.TEXT, broken))
    with pytest.raises(RuntimeError, match="handler broke"), tg.run(app) as runner:
        resident.send_text("x")
        tg.api.wait_for(lambda: runner.errors, timeout=5)


# -- the Bot API surface over raw HTTP -----------------------------------------------


def test_get_me_error_shapes_and_token_check(tg):
    me = bot_api(tg, "getMe").json()["result"]
    assert me["is_bot"] is True and me["username"]
    missing = bot_api(tg, "sendSticker", chat_id=1)
    assert missing.status_code == 404
    assert missing.json() == {"ok": False, "error_code": 404, "description": "Not Found"}
    wrong = httpx.post(f"{tg.api.base_url}0:wrong/getMe")
    assert wrong.status_code == 401 and wrong.json()["ok"] is False


def test_get_updates_keeps_updates_until_confirmed_by_offset(tg, resident):
    resident.send_text("a")
    resident.send_text("b")
    first = bot_api(tg, "getUpdates").json()["result"]
    assert [u["message"]["text"] for u in first] == ["a", "b"]
    assert "botToken" not in first[0]["message"]
    again = bot_api(tg, "getUpdates", offset=first[0]["update_id"]).json()["result"]
    assert again == first
    rest = bot_api(tg, "getUpdates", offset=first[1]["update_id"]).json()["result"]
    assert [u["message"]["text"] for u in rest] == ["b"]
    done = bot_api(tg, "getUpdates", offset=first[1]["update_id"] + 1).json()["result"]
    assert done == []


def test_get_updates_long_polls_until_an_update_arrives(tg, resident):
    threading.Timer(0.3, resident.send_text, args=("late",)).start()
    result = bot_api(tg, "getUpdates", timeout=5).json()["result"]
    assert [u["message"]["text"] for u in result] == ["late"]


def test_blocked_unknown_chat_and_bad_file_errors(tg, resident):
    resident.block_bot()
    blocked = bot_api(tg, "sendMessage", chat_id=resident.chat_id, text="hi")
    assert blocked.status_code == 403
    assert blocked.json()["description"] == "Forbidden: bot was blocked by the user"
    unknown = bot_api(tg, "sendMessage", chat_id=42, text="hi")
    assert (unknown.status_code, unknown.json()["description"]) == (
        400, "Bad Request: chat not found"
    )
    assert bot_api(tg, "getFile", file_id="nope").status_code == 400


def test_injected_rate_limit_answers_429_with_retry_after(tg, resident):
    tg.api.inject_error("sendMessage", 429, "Too Many Requests: retry after 3", {"retry_after": 3})
    limited = bot_api(tg, "sendMessage", chat_id=resident.chat_id, text="hi")
    assert limited.status_code == 429
    assert limited.json()["parameters"] == {"retry_after": 3}
    assert bot_api(tg, "sendMessage", chat_id=resident.chat_id, text="hi").status_code == 200


def test_my_commands_round_trip(tg):
    commands = [{"command": "report", "description": "上报问题"}]
    bot_api(tg, "setMyCommands", commands=json.dumps(commands), language_code="zh")
    assert bot_api(tg, "getMyCommands", language_code="zh").json()["result"] == commands
    assert bot_api(tg, "getMyCommands").json()["result"] == []


def test_bot_photo_upload_is_served_back(tg, resident):
    original = photo_bytes(200, 100)
    response = httpx.post(
        f"{tg.api.base_url}{tg.token}/sendPhoto",
        data={"chat_id": str(resident.chat_id), "caption": "回执"},
        files={"photo": ("p.jpg", original, "image/jpeg")},
    )
    photo = response.json()["result"]["photo"]
    assert resident.wait_reply().text == "回执"
    assert resident.file_bytes(photo[-1]["file_id"]) == original
    assert (photo[-1]["width"], photo[-1]["height"]) == (200, 100)


def test_webhook_delivery_with_secret_token(tg, resident):
    received: list[tuple[dict, str | None]] = []

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((json.loads(body), self.headers["X-Telegram-Bot-Api-Secret-Token"]))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/tg"
        assert bot_api(tg, "setWebhook", url=url, secret_token="s3cret").json()["result"]
        assert bot_api(tg, "getUpdates").status_code == 409
        resident.send_text("via webhook")
        tg.api.wait_for(lambda: received, timeout=5)
        assert bot_api(tg, "getWebhookInfo").json()["result"]["url"] == url
    finally:
        bot_api(tg, "deleteWebhook")
        server.shutdown()
        server.server_close()
    update, secret = received[0]
    assert (update["message"]["text"], secret) == ("via webhook", "s3cret")


def test_emulator_millisecond_dates_and_token_leak_are_repaired():
    raw = {
        "update_id": 3,
        "message": {"message_id": 9, "date": 1_700_000_000_123, "botToken": "t",
                    "chat": {"id": 5, "type": "private"}, "text": "x"},
    }
    message = fix_update(raw)["message"]
    assert message["date"] == 1_700_000_000
    assert "botToken" not in message
