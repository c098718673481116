"""Normalise residents' text before matching: width, script, emoji, whitespace, punctuation runs.

Residents type on phones with full-width digits, traditional characters, emoji and "!!!!!";
every scorer sees the same canonical form, while the original is kept for display and extraction.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from opencc import OpenCC

_EMOJI = re.compile(
    "[\U0001f000-\U0001faff\U00002600-\U000027bf\U0001f900-\U0001f9ff"
    "\U0000fe00-\U0000fe0f\U0000200d\U000020e3\U0001f1e6-\U0001f1ff]+"
)
_SPACE = re.compile(r"\s+")
_PUNCT_RUN = re.compile(r"([!?,.;:~。！？，、；：…～])\1+")
_HAN = re.compile(r"[\u3400-\u9fff]")
_LATIN = re.compile(r"[A-Za-z]")
_CJK_OR_PUNCT = r"[\u3400-\u9fff!?,.;:~。！？，、；：…～]"
_SPACE_BETWEEN_HAN = re.compile(rf"(?<={_CJK_OR_PUNCT}) (?={_CJK_OR_PUNCT})")


@dataclass(frozen=True)
class Normalized:
    original: str
    text: str  # canonical form: half-width, simplified, lower-case, single spaces
    lang: str  # "zh" | "en"
    simplified: str  # half-width and simplified only: what place extraction reads


@lru_cache(maxsize=1)
def _t2s() -> OpenCC:
    return OpenCC("t2s")


@lru_cache(maxsize=1)
def _t2s_triggers() -> tuple[frozenset[str], tuple[str, ...]] | None:
    """What t2s can rewrite: its one-character keys, and the few phrase keys made only of
    characters that are no key themselves (有序, 沈默). A text with neither converts to itself.
    None when the OpenCC package does not expose its tables (a private attribute): then every
    text with Han characters is converted, as before."""
    try:
        keys = [key for group in _t2s()._dict_chain_data for _, _, table in group for key in table]
    except (AttributeError, TypeError, ValueError):
        return None
    chars = frozenset(key for key in keys if len(key) == 1)
    return chars, tuple(key for key in keys if len(key) > 1 and chars.isdisjoint(key))


def _converts(text: str) -> bool:
    triggers = _t2s_triggers()
    if triggers is None:
        return _HAN.search(text) is not None
    chars, phrases = triggers
    return not chars.isdisjoint(text) or any(phrase in text for phrase in phrases)


def simplified(text: str) -> str:
    """Width-folded (NFKC) and simplified (t2s), case and emoji kept: the first step of every
    reading of the text, done once per message. The pure-Python conversion is the costly part,
    and most messages are already simplified, so it runs only when it can change something."""
    out = unicodedata.normalize("NFKC", text)
    return _t2s().convert(out) if _converts(out) else out


def normalize_text(text: str) -> str:
    """The canonical form of ``text`` (NFKC width folding, t2s, no emoji, collapsed runs)."""
    return _canonical(simplified(text))


def _canonical(simple: str) -> str:
    out = _EMOJI.sub(" ", simple)
    out = _PUNCT_RUN.sub(r"\1", out)
    out = _SPACE.sub(" ", out).strip()
    out = _SPACE_BETWEEN_HAN.sub("", out)
    return out.lower()


def detect_language(text: str) -> str:
    """``zh`` when Han characters are a fair share of the letters, else ``en``."""
    han = len(_HAN.findall(text))
    latin = len(_LATIN.findall(text))
    if han == 0 and latin == 0:
        return "zh"
    return "zh" if han * 3 >= latin else "en"


def normalize(text: str, lang: str | None = None) -> Normalized:
    simple = simplified(text)
    canonical = _canonical(simple)
    return Normalized(original=text, text=canonical, lang=lang or detect_language(canonical),
                      simplified=simple)
