"""Decode Bot API request parameters the way Telegram does, into typed values.

Bot libraries send form fields (urlencoded or multipart) where strings go raw and every
other value is JSON; some send a JSON body or a query string. Text-like fields stay
strings even when they look like numbers.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from email.message import Message
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any
from urllib.parse import parse_qsl

STRING_FIELDS = frozenset(
    {
        "text", "caption", "parse_mode", "caption_parse_mode", "action", "callback_query_id",
        "inline_message_id", "file_id", "language_code", "url", "secret_token", "ip_address",
        "business_connection_id", "message_effect_id", "title", "address", "description",
        "short_description", "name", "emoji", "query_id",
    }
)


@dataclass
class Upload:
    """A file part of a multipart request."""

    filename: str
    data: bytes


@dataclass
class Request:
    params: dict[str, Any] = field(default_factory=dict)
    uploads: dict[str, Upload] = field(default_factory=dict)


def decode_value(name: str, raw: str) -> Any:
    if name in STRING_FIELDS:
        return raw
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def parse_request(content_type: str, body: bytes, query: str) -> Request:
    request = Request()
    fields = parse_qsl(query, keep_blank_values=True)
    mime = content_type.split(";", 1)[0].strip().lower()
    if mime == "application/json" and body:
        request.params.update(json.loads(body))
    elif mime == "application/x-www-form-urlencoded":
        fields += parse_qsl(body.decode(), keep_blank_values=True)
    elif mime == "multipart/form-data":
        fields += _parse_multipart(content_type, body, request.uploads)
    for name, raw in fields:
        request.params[name] = decode_value(name, raw)
    return request


def _parse_multipart(content_type: str, body: bytes, uploads: dict[str, Upload]) -> list:
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    envelope: Message = BytesParser(policy=HTTP).parsebytes(head + body)
    fields = []
    for part in envelope.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True) or b""
        filename = part.get_filename()
        if filename is not None:
            uploads[name] = Upload(filename=filename, data=payload)
        else:
            fields.append((name, payload.decode(part.get_content_charset() or "utf-8")))
    return fields
