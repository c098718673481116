"""Telegram's side of linking a phone: the contact button (request_contact) and the shared
contact, which starts a link only when it is the sender's own number."""

from __future__ import annotations

import json
from pathlib import Path

from telegram import Bot, ReplyKeyboardMarkup, Update

from bot.handlers.telegram.handler import inbound_from_update, render
from bot.types import Reply

FIXTURE = Path(__file__).parent / "fixtures" / "telegram" / "contact_message.json"
BOT = Bot("7000000001:AAF-unit-test-token")


def contact_update(user_id: int) -> Update:
    data = json.loads(FIXTURE.read_text("utf-8"))
    data["message"]["contact"]["user_id"] = user_id
    return Update.de_json(data, BOT)


def test_own_contact_asks_to_link_that_number():
    inbound = inbound_from_update(contact_update(523845127))
    assert inbound.text == "/link 8613800001234" and inbound.sender == "523845127"
    assert inbound.payload["message"]["contact"]["phone_number"] == "8613800001234"


def test_someone_elses_contact_links_nothing():
    assert inbound_from_update(contact_update(999)).text == "/link"


def test_contact_request_is_a_reply_keyboard_button():
    [(text, markup)] = render(Reply("发送手机号", language="zh", request_contact=True), False)
    assert text == "发送手机号"
    assert isinstance(markup, ReplyKeyboardMarkup)
    button = markup.keyboard[0][0]
    assert button.request_contact and button.text == "📱 用我的手机号绑定"
    assert Reply.from_json(Reply("x", request_contact=True).to_json()).request_contact
