"""What a message means besides a report: a greeting, a question about a report already made,
or "not fixed" after a closure. Phrases are data (bot/data/intents.yaml)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from importlib import resources

import yaml

_FILLER = re.compile(r"[\s,，.。!！?？~～、…]+")


@dataclass(frozen=True)
class Phrases:
    """Chinese phrases match as substrings, English ones as whole words."""

    zh: tuple[str, ...]
    en: re.Pattern[str] | None

    @classmethod
    def of(cls, data: dict) -> Phrases:
        en = [re.escape(p.lower()) for p in data.get("en", [])]
        return cls(tuple(data.get("zh", [])),
                   re.compile(r"\b(?:" + "|".join(en) + r")\b") if en else None)

    def found(self, text: str) -> bool:
        lowered = text.lower()
        return any(p in lowered for p in self.zh) or bool(self.en and self.en.search(lowered))


@cache
def _data() -> dict:
    return yaml.safe_load(resources.files("bot").joinpath("data", "intents.yaml").read_text("utf-8"))


@cache
def _greetings() -> frozenset[str]:
    data = _data()["greetings"]
    return frozenset(p.lower() for p in (*data["zh"], *data["en"]))


@cache
def _phrases(*path: str) -> Phrases:
    data = _data()
    for key in path:
        data = data[key]
    return Phrases.of(data)


def is_greeting(text: str) -> bool:
    """Only greetings and openers ("你好，在吗？", "这边有点问题"): nothing to report yet."""
    lowered = text.lower()
    parts = [p for p in _FILLER.split(lowered) if p]
    whole = _FILLER.sub(" ", lowered).strip()
    return whole in _greetings() or (bool(parts) and all(p in _greetings() for p in parts))


def mentions_own_report(text: str) -> bool:
    return _phrases("status", "mine").found(text)


def asks_progress(text: str) -> bool:
    return _phrases("status", "asks").found(text)


def says_not_fixed(text: str) -> bool:
    return _phrases("not_fixed").found(text)
