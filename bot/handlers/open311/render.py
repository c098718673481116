"""Open311 answers in the spec's two formats: JSON, and XML with the spec's element names
(a list's items are named by `ITEM_TAGS`); errors as the spec's error list."""

from __future__ import annotations

import json
from typing import Any
from xml.etree.ElementTree import Element, SubElement, tostring

from flask import Response

FORMATS = ("json", "xml")
# The element name of each item in a list, by the list's own name.
ITEM_TAGS = {
    "services": "service", "service_requests": "request", "attributes": "attribute",
    "values": "value", "endpoints": "endpoint", "formats": "format", "errors": "error",
    "service_request_updates": "request_update",
}


class Open311Error(Exception):
    """An answer in the spec's error format: the HTTP code and what went wrong."""

    def __init__(self, code: int, description: str) -> None:
        super().__init__(description)
        self.code = code
        self.description = description


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _fill(parent: Element, value: Any) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            _fill_child(parent, key, item)
    elif value is not None:
        parent.text = _text(value)


def _fill_child(parent: Element, tag: str, value: Any) -> None:
    element = SubElement(parent, tag)
    if isinstance(value, list):
        for item in value:
            _fill(SubElement(element, ITEM_TAGS.get(tag, "item")), item)
    else:
        _fill(element, value)


def to_xml(root: str, body: Any) -> bytes:
    """``body`` under ``root``: a list becomes repeated items, a dict child elements."""
    element = Element(root)
    if isinstance(body, list):
        for item in body:
            _fill(SubElement(element, ITEM_TAGS[root]), item)
    else:
        _fill(element, body)
    return b'<?xml version="1.0" encoding="utf-8"?>\n' + tostring(element, encoding="unicode").encode()


def answer(fmt: str, root: str, body: Any, status: int = 200) -> Response:
    if fmt == "json":
        return Response(json.dumps(body, ensure_ascii=False), status,
                        content_type="application/json; charset=utf-8")
    return Response(to_xml(root, body), status, content_type="text/xml; charset=utf-8")


def error(fmt: str, exc: Open311Error) -> Response:
    return answer(fmt, "errors", [{"code": exc.code, "description": exc.description}], exc.code)
