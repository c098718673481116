"""Text the databases cannot store — NUL (PostgreSQL refuses it in text and JSON) and lone UTF-16
surrogates (not encodable as UTF-8, e.g. half an emoji from a broken client) — becomes U+FFFD
on its way into any column, so such a character costs one replacement, never the message."""

from __future__ import annotations

import json
import re
from typing import Any

UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
REPLACEMENT = "\ufffd"


def storable(value: Any) -> Any:
    """`value` with NUL and lone surrogates replaced in every string it holds (dicts, lists)."""
    if isinstance(value, str):
        return UNSTORABLE.sub(REPLACEMENT, value) if UNSTORABLE.search(value) else value
    if isinstance(value, dict):
        return {storable(k): storable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(storable(v) for v in value)
    return value


def dumps(value: Any) -> str:
    """The JSON columns' serializer: characters kept as they are (no \\u escapes), then cleaned
    only when something unstorable is there (json writes NUL as the escape \\u0000)."""
    text = json.dumps(value, ensure_ascii=False)
    if "\\u0000" in text or UNSTORABLE.search(text):
        text = json.dumps(storable(value), ensure_ascii=False)
    return text


def storable_parameters(parameters: Any) -> Any:
    """A statement's bound parameters (a dict, a tuple, or a list of them for executemany),
    cleaned; the same object when nothing needed it (the common case)."""
    if isinstance(parameters, dict):
        if any(isinstance(v, str) and UNSTORABLE.search(v) for v in parameters.values()):
            return {k: storable(v) if isinstance(v, str) else v for k, v in parameters.items()}
        return parameters
    if isinstance(parameters, list | tuple):
        if parameters and isinstance(parameters[0], dict | list | tuple):
            return type(parameters)(storable_parameters(p) for p in parameters)
        if any(isinstance(v, str) and UNSTORABLE.search(v) for v in parameters):
            return type(parameters)(storable(v) if isinstance(v, str) else v for v in parameters)
    return parameters
