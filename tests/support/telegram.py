"""A resident's whole Telegram report through the emulator, and a photo to send with it."""

from __future__ import annotations

import io
import re

import numpy as np
from PIL import Image

NUMBER = re.compile(r"GI-\d{8}-\d{6}")
SLOW = 30.0  # the first message loads the classifier
PIN = (35.7480, 114.2970)  # inside the demo city's grid


def jpeg(width: int = 640, height: int = 480, seed: int = 3) -> bytes:
    pixels = np.random.default_rng(seed).integers(0, 255, (height, width, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "JPEG")
    return buffer.getvalue()


def report(resident, text: str = "井盖坏了", photo: bytes | None = None) -> tuple[str, str]:
    """Describe → pick the first category button → pin → photo → submit. (category, case no.)"""
    resident.send_text(text)
    pick = resident.wait_reply(SLOW)
    category = pick.inline_buttons[0]["text"]
    resident.press(category)
    ask_place = resident.wait_reply()
    assert [b.get("request_location") for b in ask_place.keyboard_buttons] == [True]
    resident.send_location(*PIN)
    confirm = resident.wait_reply()
    assert category in confirm.text
    if photo is not None:
        resident.send_photo(photo)
        confirm = resident.wait_reply()
    resident.press(confirm.inline_buttons[0]["text"])
    filed = resident.wait_reply()
    return category, NUMBER.search(filed.text).group()
