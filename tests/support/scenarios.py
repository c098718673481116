"""Residents' conversations as data: the player behind tests/test_scenarios.py.

A scenario file (``tests/scenarios/*.yaml``) is one theme: ``about`` (what it shows), an
optional default ``channel`` (console | telegram | sms; default console) and ``language``
(the channel's hint, as Telegram's language_code), and ``steps``. A step sends one message:

- ``call: {transcript: …, caller_phone: …, consent_sms: true, label: …, place: …}`` an
  operator files a hotline call (``POST /api/v1/transcripts``, a call id of its own), or
  ``preview: <transcript>`` asks what it would file; the JSON answer is the reply;
- ``platform: {case: 1, status: closed, note: …, photo_url: …}`` the city platform reports a
  status for the first case (signed ``POST /api/v1/cases/<number>/events``); the JSON answer
  is the reply; ``rewind_days: 8`` moves every case's times that many days back;
- ``text: 井盖丢了`` (``{case2}`` in it stands for the second case's number, ``{digits2}`` for
  its digits alone, as residents copy it), ``photo: plain`` (or ``photo: {lat: …, lon: …}``
  for a photo whose EXIF carries GPS), ``pin: [lat, lon]``, optionally with ``as: <sender>``
  and ``channel: …``; a ``note`` says what the step shows;

and checks what came back and what is stored:

- ``expect: [regex, …]`` each pattern found in the replies (joined by newlines);
- ``reject: [regex, …]`` no pattern found; ``replies: N`` exactly N replies;
- ``segments: N`` every reply at most N SMS segments (as the SMS channel renders it);
- ``state: await_place`` the sender's conversation state afterwards;
- ``told: {"+86…": regex}`` the latest message queued for that resident (outbox, any
  resident channel: a phone on SMS, a chat id on Telegram) matches;
- ``opted_out: true`` the sender's phone is (or with false: is not) opted out of texts;
- ``cases: [{field: regex, …}, …]`` every case in the database, in filing order, each field's
  value (``str``) matching its pattern in full; ``duplicate_of`` is the original's number.

Console and Telegram messages go through ``Engine.handle`` (the one interface every channel
uses); SMS goes through the signed Twilio webhook, its replies read from the TwiML.
"""

from __future__ import annotations

import io
import json
import re
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml
from PIL import Image
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from bot.handlers.console.handler import render as console_render
from bot.handlers.sms.rules import phone_opted_out, segments
from bot.signing import HEADER, signature
from bot.types import Inbound, Photo
from cases.outbox import RESIDENT_SINKS
from gateway.app import create_app
from storage.db import transaction
from storage.models import Case, Conversation, Outbox, Reporter
from tests.support.sms import sign, twilio_form
from tests.support.users import add_user

SCENARIOS = Path(__file__).resolve().parents[1] / "scenarios"
DEFAULT_SENDER = {"sms": "+8613800001234"}
CASE_FIELDS = frozenset({"label", "status", "language", "place_text", "grid_code", "channel",
                         "urgent", "location_source", "duplicate_of", "text", "category_name"})
STEP_KEYS = frozenset({"call", "preview", "text", "photo", "pin", "as", "channel", "language",
                       "expect", "reject", "replies", "segments", "state", "cases", "told",
                       "platform", "rewind_days",
                       "note", "opted_out"})


def scenario_files() -> list[Path]:
    return sorted(SCENARIOS.glob("*.yaml"))


def photo_bytes(spec: Any) -> bytes:
    """A small JPEG; with ``{lat, lon}`` its EXIF carries that GPS position."""
    image = Image.new("RGB", (64, 48), (120, 130, 140))
    out = io.BytesIO()
    if isinstance(spec, dict):
        exif = Image.Exif()
        gps = exif.get_ifd(0x8825)
        for ref, tag, value, (pos, neg) in (
                (1, 2, float(spec["lat"]), ("N", "S")), (3, 4, float(spec["lon"]), ("E", "W"))):
            gps[ref] = pos if value >= 0 else neg
            degrees = abs(value)
            gps[tag] = (int(degrees), int(degrees * 60) % 60, round(degrees * 3600 % 60, 4))
        image.save(out, "JPEG", exif=exif)
    else:
        image.save(out, "JPEG")
    return out.getvalue()


@dataclass
class Heard:
    """What one step got back: the replies as the resident reads them."""

    texts: list[str] = field(default_factory=list)


class Player:
    """Plays one scenario against a runtime, step by step, checking each as it goes."""

    def __init__(self, runtime, spec: dict[str, Any], name: str) -> None:
        self.runtime, self.spec, self.name = runtime, spec, name
        self.channel = spec.get("channel", "console")
        self.language = spec.get("language")
        self._client = None
        self._token: str | None = None
        self._n = 0

    @property
    def client(self):
        if self._client is None:
            self._client = create_app(self.runtime).test_client()
        return self._client

    def play(self) -> None:
        for index, step in enumerate(self.spec["steps"], start=1):
            unknown = set(step) - STEP_KEYS
            assert not unknown, f"{self.name} step {index}: unknown keys {sorted(unknown)}"
            heard = self.send(step)
            self.check(step, heard, f"{self.name} step {index} ({self._label(step)})")

    @staticmethod
    def _label(step: dict[str, Any]) -> str:
        for key in ("text", "photo", "pin", "call", "preview", "platform", "rewind_days"):
            if key in step:
                return f"{key}: {step[key]}"
        return "?"

    # ---- sending ---------------------------------------------------------------------------

    def _sender(self, step: dict[str, Any]) -> str:
        channel = step.get("channel", self.channel)
        return str(step.get("as", DEFAULT_SENDER.get(channel, "resident-1")))

    def send(self, step: dict[str, Any]) -> Heard:
        channel = step.get("channel", self.channel)
        sender = self._sender(step)
        self._n += 1
        if "text" in step:
            step = {**step, "text": self._numbers(str(step["text"]))}
        if "call" in step or "preview" in step:
            return self._hotline(step)
        if "platform" in step:
            return self._platform(step["platform"])
        if "rewind_days" in step:
            return self._rewind(int(step["rewind_days"]))
        if channel == "sms":
            return self._sms(step, sender)
        photo = Photo(photo_bytes(step["photo"])) if "photo" in step else None
        pin = tuple(step["pin"]) if "pin" in step else None
        inbound = Inbound(channel, sender, uuid.uuid4().hex, text=step.get("text"), photo=photo,
                          location=pin, language=step.get("language", self.language))
        outcome = self.runtime.engine.handle(inbound)
        return Heard([console_render(r) for r in outcome.replies])

    def _numbers(self, text: str) -> str:
        def number(match: re.Match[str]) -> str:
            with transaction(self.runtime.sessions) as session:
                found = session.scalars(select(Case.number).order_by(Case.id)).all()
            value = found[int(match.group(2)) - 1]
            return value if match.group(1) == "case" else re.sub(r"\D", "", value)
        return re.sub(r"\{(case|digits)(\d+)\}", number, text)

    def _platform(self, event: dict[str, Any]) -> Heard:
        number = self._numbers(f"{{case{event['case']}}}")
        fields = {k: v for k, v in event.items() if k != "case"}
        body = json.dumps({"case": number, "event_id": f"event-{self._n}", **fields}).encode()
        secret = self.runtime.config.secret("PLATFORM_SECRET")
        resp = self.client.post(f"/api/v1/cases/{number}/events", data=body, headers={
            "Content-Type": "application/json", HEADER: signature(secret, body)})
        assert resp.status_code == 200, resp.data
        return Heard([json.dumps(resp.get_json(), ensure_ascii=False)])

    def _rewind(self, days: int) -> Heard:
        back = timedelta(days=days)
        with transaction(self.runtime.sessions) as session:
            for case in session.scalars(select(Case)):
                case.created_at -= back
                case.closed_at = case.closed_at - back if case.closed_at else None
        return Heard()

    def _hotline(self, step: dict[str, Any]) -> Heard:
        if self._token is None:
            self._token = add_user(self.runtime, "operator-1", "operator")
        headers = {"Authorization": f"Bearer {self._token}"}
        if "preview" in step:
            resp = self.client.post("/api/v1/transcripts/preview", headers=headers,
                                    json={"transcript": step["preview"]})
        else:
            resp = self.client.post("/api/v1/transcripts", headers=headers,
                                    json={"call_id": f"call-{self._n}", **step["call"]})
        assert resp.status_code in (200, 201), resp.data
        return Heard([json.dumps(resp.get_json(), ensure_ascii=False)])

    def _sms(self, step: dict[str, Any], phone: str) -> Heard:
        assert "text" in step, "SMS steps are text (MMS photos need a media server)"
        url = "http://localhost/sms/twilio"
        form = twilio_form(Body=step["text"], From=phone, MessageSid=f"SM{self._n:032d}")
        resp = self.client.post("/sms/twilio", data=form,
                                headers={"X-Twilio-Signature": sign(url, form)})
        assert resp.status_code == 200, resp.data
        root = ET.fromstring(resp.data.decode())
        return Heard([m.text or "" for m in root.iter("Message")])

    # ---- checking --------------------------------------------------------------------------

    def check(self, step: dict[str, Any], heard: Heard, where: str) -> None:
        said = "\n".join(heard.texts)
        for pattern in step.get("expect", []):
            assert re.search(str(pattern), said), f"{where}: expected /{pattern}/ in:\n{said}"
        for pattern in step.get("reject", []):
            assert not re.search(str(pattern), said), f"{where}: /{pattern}/ must not be in:\n{said}"
        if "replies" in step:
            assert len(heard.texts) == step["replies"], f"{where}: {len(heard.texts)} replies:\n{said}"
        if "segments" in step:
            for text in heard.texts:
                count = segments(text).count
                assert count <= step["segments"], f"{where}: {count} segments: {text}"
        if "state" in step:
            state = self.state(step.get("channel", self.channel), self._sender(step))
            assert state == step["state"], f"{where}: state {state}"
        if "cases" in step:
            self.check_cases(step["cases"], where)
        for target, pattern in step.get("told", {}).items():
            with transaction(self.runtime.sessions) as session:
                row = session.scalar(select(Outbox).where(Outbox.sink.in_(RESIDENT_SINKS),
                                                          Outbox.target == str(target))
                                     .order_by(Outbox.id.desc()).limit(1))
            assert row is not None, f"{where}: nothing queued for {target}"
            assert re.search(str(pattern), row.payload["text"]), f"{where}: texted {row.payload}"
        if "opted_out" in step:
            with transaction(self.runtime.sessions) as session:
                opted_out = phone_opted_out(session, self._sender(step))
            assert opted_out == step["opted_out"], f"{where}: opted out is {opted_out}"

    def state(self, channel: str, sender: str) -> str:
        with transaction(self.runtime.sessions) as session:
            state = session.scalar(
                select(Conversation.state).join(Reporter, Reporter.id == Conversation.reporter_id)
                .where(Reporter.channel == channel, Reporter.channel_user_id == sender))
        return str(state or "idle")

    def check_cases(self, expected: list[dict[str, Any]], where: str) -> None:
        with transaction(self.runtime.sessions) as session:
            cases = session.scalars(select(Case).options(selectinload(Case.duplicate_of))
                                    .order_by(Case.id)).all()
            found = [self._case_fields(c) for c in cases]
        assert len(found) == len(expected), f"{where}: {len(found)} cases: {found}"
        for want, got in zip(expected, found, strict=True):
            unknown = set(want) - CASE_FIELDS
            assert not unknown, f"{where}: unknown case fields {sorted(unknown)}"
            for name, pattern in want.items():
                assert re.fullmatch(str(pattern), got[name]), \
                    f"{where}: case {name} is {got[name]!r}, expected /{pattern}/"

    @staticmethod
    def _case_fields(case: Case) -> dict[str, str]:
        values = {name: str(getattr(case, name)) for name in CASE_FIELDS - {"duplicate_of"}}
        values["duplicate_of"] = str(case.duplicate_of.number if case.duplicate_of else None)
        return values


def load(path: Path) -> dict[str, Any]:
    spec = yaml.safe_load(path.read_text("utf-8"))
    assert isinstance(spec, dict) and isinstance(spec.get("steps"), list), \
        f"{path.name}: expected a mapping with steps"
    return spec
