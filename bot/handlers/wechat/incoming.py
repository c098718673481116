"""A WeChat message or event as the engine's `Inbound`, and what else it asks of us: an image
to fetch with media/get, a follow or unfollow to record, a reply instead of processing.

The idempotency key is the MsgId; events have none, so theirs is FromUserName + CreateTime (+
the event, since a follow and its LOCATION report come in the same second), as WeChat advises.
Pins come in GCJ-02 (WeChat's maps) and are kept as WGS-84 like every channel's.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import yaml

from bot.types import Inbound
from geo.coords import gcj02_to_wgs84

CHANNEL = "wechat"


@cache
def menu() -> dict[str, Any]:
    """The custom menu (data/menu.yaml): what `gridintake wechat menu push` sends, and the command
    each CLICK key stands for."""
    text = resources.files(__package__).joinpath("data", "menu.yaml").read_text("utf-8")
    return yaml.safe_load(text)


def click_commands() -> dict[str, str]:
    buttons = [b for top in menu()["button"] for b in [top, *top.get("sub_button", [])]]
    return {b["key"]: b["command"] for b in buttons if b.get("type") == "click"}


@dataclass
class Incoming:
    """One message as the engine will see it, and how it is handled."""

    inbound: Inbound
    media_id: str | None = None  # an image, fetched before the engine sees it
    follow: bool | None = None  # subscribe (True) / unsubscribe (False)
    keep_only: bool = False  # stored, not a conversation turn (LOCATION reports, unfollow, views)
    answer_key: str | None = None  # stored and answered with this catalog reply, not processed


def _key(msg: dict[str, Any]) -> str:
    if msg.get("MsgId"):
        return str(msg["MsgId"])
    return f"{msg['FromUserName']}:{msg['CreateTime']}:{msg.get('Event', '')}"


def read(msg: dict[str, Any]) -> Incoming:
    """`msg`: the message's XML as a dict (xmltodict), already checked and decrypted."""
    kind, event = msg["MsgType"].lower(), (msg.get("Event") or "").lower()
    common = {"channel": CHANNEL, "sender": msg["FromUserName"], "key": _key(msg),
              "payload": {"wechat": msg}}
    if kind == "text":
        return Incoming(Inbound(text=msg.get("Content") or None, **common))
    if kind == "image":
        return Incoming(Inbound(**common), media_id=msg.get("MediaId"))
    if kind == "location":
        point = gcj02_to_wgs84(float(msg["Location_X"]), float(msg["Location_Y"]))
        return Incoming(Inbound(location=point, **common))
    if kind == "voice":
        heard = (msg.get("Recognition") or "").strip()
        if heard:
            return Incoming(Inbound(text=heard, **common))
        return Incoming(Inbound(**common), answer_key="wechat_voice_text")
    if kind == "event" and event == "subscribe":
        return Incoming(Inbound(text="/start", **common), follow=True)
    if kind == "event" and event == "unsubscribe":
        return Incoming(Inbound(**common), follow=False, keep_only=True)
    if kind == "event" and event == "click":
        command = click_commands().get(msg.get("EventKey") or "")
        return Incoming(Inbound(text=command, **common), keep_only=command is None)
    if kind == "event":  # LOCATION reports, menu VIEW links, template receipts
        return Incoming(Inbound(**common), keep_only=True)
    return Incoming(Inbound(**common), answer_key="not_text")  # video, link, file
