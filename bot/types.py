"""The one small interface between channel handlers and the conversation engine."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from storage.text import storable

without_nul = storable  # the older name some channels import; it replaces lone surrogates too


@dataclass(frozen=True)
class Photo:
    """Photo bytes as the channel delivered them; the engine verifies they are an image."""

    data: bytes
    declared_mime: str | None = None
    source_id: str | None = None  # the channel's file id


@dataclass
class Inbound:
    channel: str  # console | telegram | sms | generic_sms | hotline
    sender: str  # the channel's user id: chat id, phone number, …
    key: str  # idempotency key, unique per channel (update id, MessageSid, call id)
    text: str | None = None
    location: tuple[float, float] | None = None  # WGS-84 (lat, lon)
    photo: Photo | None = None
    phone: str | None = None
    language: str | None = None  # the channel's hint, e.g. Telegram's language_code
    display_name: str | None = None
    payload: dict[str, Any] = field(default_factory=dict)  # the raw message, stored as is

    def __post_init__(self) -> None:
        for name in ("channel", "sender", "key", "text", "phone", "display_name", "payload"):
            setattr(self, name, storable(getattr(self, name)))

    @property
    def kind(self) -> str:
        if self.photo is not None:
            return "photo"
        if self.location is not None:
            return "location"
        if self.text and self.text.strip().startswith("/"):
            return "command"
        return "text"


@dataclass(frozen=True)
class Choice:
    key: str  # what the resident sends back (SMS digit, Telegram callback data)
    label: str


@dataclass
class Reply:
    text: str
    choices: list[Choice] = field(default_factory=list)
    request_location: bool = False
    language: str | None = None  # the resident's (channels label buttons in it), when known
    # The catalog entry and its values: a provider that sends only approved templates (mainland
    # SMS) sends the template for the key, not the text.
    key: str | None = None
    values: dict[str, str] = field(default_factory=dict)
    request_contact: bool = False  # a channel that can share the user's own number offers it

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "text": self.text,
            "choices": [{"key": c.key, "label": c.label} for c in self.choices],
            "request_location": self.request_location,
        }
        if self.language:
            data["language"] = self.language
        if self.key:
            data["key"], data["values"] = self.key, self.values
        if self.request_contact:
            data["request_contact"] = True
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Reply:
        return cls(
            text=data["text"],
            choices=[Choice(c["key"], c["label"]) for c in data.get("choices", [])],
            request_location=bool(data.get("request_location")),
            language=data.get("language"),
            key=data.get("key"),
            values=data.get("values") or {},
            request_contact=bool(data.get("request_contact")),
        )


@dataclass
class Outcome:
    replies: list[Reply]
    inbound_id: int | None = None
    case_number: str | None = None
    replayed: bool = False  # the same message came again: the stored replies are repeated
