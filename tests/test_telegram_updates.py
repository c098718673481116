"""Telegram without a server: Updates (as the Bot API documents them) → Inbound, Reply → messages,
and the outbox sender's pacing and error mapping."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest
from telegram import Bot, InlineKeyboardMarkup, ReplyKeyboardMarkup, ReplyKeyboardRemove, Update

from bot.handlers.telegram.handler import attachment_of, inbound_from_update, render
from bot.handlers.telegram.outbound import (
    ApiError,
    BotApi,
    Pacer,
    bot_base_url,
    classify_failure,
    file_base_url,
    inline_keyboard,
    send_outbox,
)
from bot.types import Choice, Photo, Reply
from cases.outbox import PermanentError, RecipientUnreachable, RetryableError

FIXTURES = Path(__file__).parent / "fixtures" / "telegram"
BOT = Bot("7000000001:AAF-unit-test-token")


def update(name: str) -> Update:
    return Update.de_json(json.loads((FIXTURES / f"{name}.json").read_text("utf-8")), BOT)


# ---- Update → Inbound ---------------------------------------------------------------------------


def test_text_message_becomes_inbound_with_language_and_raw_payload():
    raw = json.loads((FIXTURES / "text_message.json").read_text("utf-8"))
    inbound = inbound_from_update(update("text_message"))
    assert (inbound.channel, inbound.sender, inbound.key) == ("telegram", "523845127", "523845127:1021")
    assert inbound.text == raw["message"]["text"]
    assert inbound.language == "zh-hans"
    assert inbound.display_name == "Wang Lei"
    assert inbound.kind == "text"
    # the stored payload keeps every field Telegram sent (to_dict adds only false flags)
    assert inbound.payload["update_id"] == raw["update_id"]
    assert {k: inbound.payload["message"][k] for k in raw["message"]} == raw["message"]


def test_command_keeps_its_argument_for_the_engine():
    inbound = inbound_from_update(update("command_message"))
    assert inbound.text == "/status GI-20251122-000017"
    assert inbound.kind == "command"
    assert inbound.language == "en"


def test_photo_picks_the_largest_size_and_caption_is_the_text():
    upd = update("photo_message")
    attached = attachment_of(upd.message)
    assert attached.file_id == "AgACAgUAAxkBAAIB_large"
    assert attached.file_size == 98410
    photo = Photo(b"\xff\xd8", attached.mime, attached.file_id)
    inbound = inbound_from_update(upd, photo)
    assert inbound.photo is photo and inbound.kind == "photo"
    assert inbound.text == "人行道上的井盖丢了"


def test_largest_photo_is_chosen_by_area_not_position():
    upd = update("photo_message")
    data = upd.to_dict()
    data["message"]["photo"].reverse()
    assert attachment_of(Update.de_json(data, BOT).message).file_id == "AgACAgUAAxkBAAIB_large"


def test_location_pin_is_wgs84_lat_lon():
    inbound = inbound_from_update(update("location_message"))
    assert inbound.location == (35.748031, 114.296987)
    assert inbound.text is None and inbound.kind == "location"


def test_callback_query_sends_the_choice_key_as_text():
    inbound = inbound_from_update(update("callback_query"))
    assert inbound.text == "1"
    assert inbound.key == "callback:2249956182931637641"
    assert inbound.sender == "523845127"


def test_document_is_an_attachment_with_its_declared_type():
    attached = attachment_of(update("document_message").message)
    assert (attached.file_id, attached.mime, attached.file_size) == (
        "BQACAgUAAxkBAAIB_doc", "application/pdf", 48211)


def test_edited_message_is_not_a_new_report():
    assert inbound_from_update(update("edited_message")) is None


# ---- Reply → messages -------------------------------------------------------------------------


def test_choices_become_an_inline_keyboard_keyed_by_choice():
    reply = Reply("请选择最接近的类别：\n1 井盖\n2 路灯", [Choice("1", "井盖"), Choice("2", "路灯"),
                                                 Choice("0", "—")])
    [(text, markup)] = render(reply, keyboard_shown=False)
    assert text == reply.text
    assert isinstance(markup, InlineKeyboardMarkup)
    buttons = [b for row in markup.inline_keyboard for b in row]
    assert [(b.text, b.callback_data) for b in buttons] == [("井盖", "1"), ("路灯", "2"), ("—", "0")]


def test_long_labels_go_one_per_row_and_ratings_share_one():
    long = [Choice(str(i), label) for i, label in enumerate(["道路破损与坑洼", "井盖缺失或破损",
                                                             "路灯不亮与灯杆损坏"], 1)]
    assert len(inline_keyboard(long)["inline_keyboard"]) == 3
    stars = [Choice(str(n), "★" * n) for n in range(1, 6)]
    assert [len(row) for row in inline_keyboard(stars)["inline_keyboard"]] == [5]


def test_location_request_is_a_reply_keyboard_button_in_the_reply_language():
    [(_, markup)] = render(Reply("Where is it?", request_location=True), keyboard_shown=False)
    assert isinstance(markup, ReplyKeyboardMarkup)
    [[button]] = markup.keyboard
    assert button.request_location is True and "location" in button.text
    [(_, zh)] = render(Reply("请发送定位", request_location=True), keyboard_shown=False)
    assert "位置" in zh.keyboard[0][0].text


def test_choices_and_location_need_two_messages():
    messages = render(Reply("地点是“九州路”吗？", [Choice("1", "✔")], request_location=True), False)
    assert [type(m) for _, m in messages] == [InlineKeyboardMarkup, ReplyKeyboardMarkup]


def test_plain_reply_removes_a_shown_location_keyboard_only():
    [(_, markup)] = render(Reply("已受理"), keyboard_shown=True)
    assert isinstance(markup, ReplyKeyboardRemove)
    assert render(Reply("已受理"), keyboard_shown=False) == [("已受理", None)]


# ---- outbox sender -----------------------------------------------------------------------------


def test_base_urls_accept_a_root_or_a_bot_prefix():
    assert bot_base_url("http://127.0.0.1:9000") == "http://127.0.0.1:9000/bot"
    assert bot_base_url("http://127.0.0.1:9000/bot/") == "http://127.0.0.1:9000/bot"
    assert bot_base_url("") == "https://api.telegram.org/bot"
    assert file_base_url("http://127.0.0.1:9000/bot") == "http://127.0.0.1:9000/file/bot"


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_pacer_keeps_one_message_a_second_per_chat():
    clock = FakeClock()
    pacer = Pacer(clock=clock, sleep=clock.sleep)
    pacer.wait("1")
    pacer.wait("2")
    assert clock.slept == []
    pacer.wait("1")
    assert clock.slept == [pytest.approx(1.0)]


def test_pacer_keeps_the_global_rate():
    clock = FakeClock()
    pacer = Pacer(per_second=3, clock=clock, sleep=clock.sleep)
    for chat in "abcd":
        pacer.wait(chat)
    assert sum(clock.slept) == pytest.approx(1.0)


def test_pacer_holds_everything_after_a_429():
    clock = FakeClock()
    pacer = Pacer(clock=clock, sleep=clock.sleep)
    pacer.pause(3)
    pacer.wait("x")
    assert sum(clock.slept) == pytest.approx(3.0)


@pytest.mark.parametrize(("code", "description", "kind"), [
    (403, "Forbidden: bot was blocked by the user", RecipientUnreachable),
    (403, "Forbidden: user is deactivated", RecipientUnreachable),
    (400, "Bad Request: chat not found", RecipientUnreachable),
    (400, "Bad Request: message text is empty", PermanentError),
    (429, "Too Many Requests: retry after 30", RetryableError),
    (502, "Bad Gateway", RetryableError),
    (401, "Unauthorized", RetryableError),
])
def test_bot_api_errors_map_onto_worker_failures(code, description, kind):
    assert isinstance(classify_failure(ApiError(code, description, 30)), kind)


def scripted_api(answers: list[httpx.Response]) -> tuple[BotApi, list[dict]]:
    seen: list[dict] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(json.loads(request.content))
        return answers.pop(0)

    clock = FakeClock()
    api = BotApi("1:t", "http://bot.test", httpx.Client(transport=httpx.MockTransport(handler)),
                 Pacer(clock=clock, sleep=clock.sleep))
    return api, seen


def sent_ok(chat_id: int = 5) -> httpx.Response:
    return httpx.Response(200, json={"ok": True, "result": {
        "message_id": 77, "date": 1, "chat": {"id": chat_id, "type": "private"}, "text": "x"}})


def test_short_retry_after_is_waited_out_and_sent_once_more():
    limited = httpx.Response(429, json={"ok": False, "error_code": 429,
                                        "description": "Too Many Requests: retry after 1",
                                        "parameters": {"retry_after": 1}})
    api, seen = scripted_api([limited, sent_ok()])
    assert api.send_message("5", {"text": "hi"})["message_id"] == 77
    assert len(seen) == 2 and api.pacer.sleep.__self__.slept == [pytest.approx(1.0)]


def test_long_retry_after_goes_back_to_the_queue():
    limited = httpx.Response(429, json={"ok": False, "error_code": 429, "description": "Too Many",
                                        "parameters": {"retry_after": 60}})
    api, seen = scripted_api([limited])
    with pytest.raises(ApiError) as raised:
        api.send_message("5", {"text": "hi"})
    assert raised.value.retry_after == 60 and len(seen) == 1


def test_send_outbox_needs_a_target_and_text(monkeypatch):
    runtime = SimpleNamespace(config=SimpleNamespace(secret=lambda name: "1:t", get=lambda *a: ""))
    with pytest.raises(PermanentError):
        send_outbox(runtime, SimpleNamespace(target=None, payload={"text": "x"}))


def test_an_english_place_prompt_quoting_a_chinese_place_keeps_an_english_button():
    """The engine says which language a reply is in: a Chinese place name in an English prompt
    must not turn the location button Chinese."""
    reply = Reply('Is it at "华夏南路/淇滨大道附近"? Reply 1 to confirm.', [Choice("1", "✔")],
                  request_location=True, language="en")
    (_, inline), (prompt, keyboard) = render(reply, keyboard_shown=False)
    assert isinstance(inline, InlineKeyboardMarkup)
    assert keyboard.keyboard[0][0].text == "📍 Send my location"
    assert "tap the button" in prompt
    assert Reply.from_json(reply.to_json()).language == "en"
