"""The console channel: a resident's conversation on stdin/stdout, scriptable in tests.

``/photo PATH`` and ``/location LAT LON`` stand in for a phone's attachments.
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import TextIO

from bot.engine import Engine
from bot.types import Inbound, Photo, Reply

CHANNEL = "console"


def to_inbound(line: str, sender: str) -> Inbound:
    """One typed line as the engine's inbound message."""
    key = uuid.uuid4().hex
    head, _, rest = line.strip().partition(" ")
    if head == "/photo":
        path = Path(rest.strip()).expanduser()
        data = path.read_bytes() if path.is_file() else b""
        return Inbound(CHANNEL, sender, key, photo=Photo(data, source_id=str(path)),
                       payload={"line": line})
    if head == "/location":
        parts = rest.replace(",", " ").split()
        try:
            lat, lon = float(parts[0]), float(parts[1])
        except (IndexError, ValueError):
            return Inbound(CHANNEL, sender, key, text=line, payload={"line": line})
        return Inbound(CHANNEL, sender, key, location=(lat, lon), payload={"line": line})
    return Inbound(CHANNEL, sender, key, text=line, payload={"line": line})


def render(reply: Reply) -> str:
    text = reply.text
    if reply.choices and not any(c.key + " " in text for c in reply.choices):
        text += "  [" + " / ".join(f"{c.key}={c.label}" for c in reply.choices) + "]"
    if reply.request_location:
        text += "  (/location LAT LON)"
    return text


def run(engine: Engine, lines: Iterable[str], out: TextIO = sys.stdout, sender: str = "local",
        prompt: bool = False) -> int:
    if prompt:
        out.write("> ")
        out.flush()
    for line in lines:
        line = line.rstrip("\n")
        if line.strip() in ("/quit", "/exit"):
            break
        outcome = engine.handle(to_inbound(line, sender))
        for reply in outcome.replies:
            out.write(render(reply) + "\n")
        if prompt:
            out.write("> ")
        out.flush()
    return 0
