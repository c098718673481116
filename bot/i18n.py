"""Replies in the resident's language from the message catalog (bot/data/messages.yaml)."""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any

import yaml

LANGUAGES = ("zh", "en")
DEFAULT_LANGUAGE = "zh"


@cache
def catalog() -> dict[str, Any]:
    text = resources.files("bot").joinpath("data", "messages.yaml").read_text("utf-8")
    return yaml.safe_load(text)


def normalize_language(lang: str | None) -> str:
    """Map channel hints such as Telegram's ``en-GB`` or ``zh-hans`` onto our languages."""
    if not lang:
        return DEFAULT_LANGUAGE
    lang = lang.lower()
    return "en" if lang.startswith("en") else DEFAULT_LANGUAGE


def guess_language(text: str) -> str | None:
    """zh when the text has Chinese characters, en when it is mostly Latin letters."""
    if any("\u4e00" <= ch <= "\u9fff" for ch in text):
        return "zh"
    letters = sum(ch.isascii() and ch.isalpha() for ch in text)
    return "en" if letters >= 3 else None


def t(key: str, lang: str, **values: Any) -> str:
    entry = catalog()[key]
    template = entry.get(lang) or entry[DEFAULT_LANGUAGE]
    return template.format(**values)


def status_name(status: str, lang: str) -> str:
    names = catalog()["status_names"]
    return names.get(lang, names[DEFAULT_LANGUAGE]).get(status, status)
