"""Out-of-scope topics (where to refer the resident) and emergency cues (whom to call), from YAML.

The files live beside the category data (``categories/data/out_of_scope.yaml`` and
``urgent.yaml``) so administrators and data writers edit them without touching code. Each entry
is a topic/cue group with its phrases and what to tell the resident; both a mapping
``name → fields`` and a list of ``{name/topic/id, ...}`` are accepted.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from nlp.normalize import normalize_text

_PHRASE_KEYS = ("cues", "keywords", "phrases", "patterns", "words", "zh", "en", "examples_zh")
_NAME_KEYS = ("topic", "name", "id", "key", "label")
_REFER_KEYS = ("referral", "reply", "refer_to", "refer", "where", "answer", "message", "hotline")
_CALL_KEYS = ("call", "number", "phone", "dial", "hotline")


@dataclass(frozen=True)
class Rule:
    name: str
    phrases: tuple[str, ...]
    info: dict[str, Any]  # what to tell the resident (referral text, number to call, …)

    def reply(self, lang: str = "zh") -> str:
        """What to tell the resident, in their language when the data has it."""
        return _first_text(self.info, (f"reply_{lang}", *_REFER_KEYS, "reply_zh", "reply_en"))

    @property
    def call(self) -> str:
        return _first_text(self.info, _CALL_KEYS)


def _first_text(data: Mapping[str, Any], keys: tuple[str, ...]) -> str:
    for key in keys:
        value = data.get(key)
        if isinstance(value, str | int) and str(value).strip():
            return str(value).strip()
        if isinstance(value, Mapping):  # e.g. referral: {zh: ..., en: ...}
            nested = _first_text(value, ("zh", "en", "text", "number"))
            if nested:
                return nested
    return ""


def _phrases(fields: Mapping[str, Any]) -> tuple[str, ...]:
    out: list[str] = []
    for key in _PHRASE_KEYS:
        value = fields.get(key)
        if isinstance(value, str):
            value = [value]
        if isinstance(value, list):
            out.extend(_phrase_text(v) for v in value)
        elif isinstance(value, Mapping):  # keywords: {zh: [...], en: [...]}
            out.extend(_phrases({"zh": value.get("zh"), "en": value.get("en")}))
    return tuple(dict.fromkeys(p for p in (normalize_text(x) for x in out) if p))


def _phrase_text(value: Any) -> str:
    if isinstance(value, Mapping):
        return str(value.get("text", ""))
    return str(value)


def _entries(data: Any) -> list[tuple[str, Mapping[str, Any]]]:
    if isinstance(data, Mapping):
        for key in ("topics", "cues", "rules", "entries", "items"):
            if isinstance(data.get(key), list | dict) and len(data) <= 3:
                return _entries(data[key])
        return [(str(k), v if isinstance(v, Mapping) else {"cues": v}) for k, v in data.items()]
    if isinstance(data, list):
        out = []
        for i, item in enumerate(data):
            if isinstance(item, Mapping):
                name = next((str(item[k]) for k in _NAME_KEYS if item.get(k)), f"#{i}")
                out.append((name, item))
        return out
    return []


def load_rules(path: Path) -> tuple[Rule, ...]:
    """Rules from one YAML file; a missing file means no rules."""
    if not path.exists():
        return ()
    data = yaml.safe_load(path.read_text("utf-8"))
    rules = []
    for name, fields in _entries(data):
        phrases = _phrases(fields)
        if phrases:
            info = {k: v for k, v in fields.items() if k not in _PHRASE_KEYS}
            rules.append(Rule(name=name, phrases=phrases, info=info))
    return tuple(rules)


def category_data(name: str) -> Path:
    return Path(str(resources.files("categories").joinpath("data", name)))


def out_of_scope_rules(path: Path | None = None) -> tuple[Rule, ...]:
    return load_rules(path or category_data("out_of_scope.yaml"))


def urgent_rules(path: Path | None = None) -> tuple[Rule, ...]:
    return load_rules(path or category_data("urgent.yaml"))
