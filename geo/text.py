"""Normalising a resident's place phrase: simplified characters, half-width, Arabic numerals."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from opencc import OpenCC

_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6,
           "七": 7, "八": 8, "九": 9}
_UNITS = {"十": 10, "百": 100, "千": 1000}
# A Chinese numeral followed by a unit that makes it a quantity, not part of a name
# (九州路 keeps its 九; 五十米 and 十二号 become 50米 and 12号).
_NUMERAL = re.compile(r"([零〇一二两三四五六七八九十百千]+)(?=\s*(?:米|公里|号|栋|楼|单元|号楼|号院))")


@lru_cache(maxsize=1)
def _t2s() -> OpenCC:
    return OpenCC("t2s")


def chinese_number(text: str) -> int:
    """'五十' → 50, '十二' → 12, '一百二十' → 120, '三零五' → 305."""
    if all(ch in _DIGITS for ch in text):
        return int("".join(str(_DIGITS[ch]) for ch in text))
    total, digit = 0, 0
    for ch in text:
        if ch in _DIGITS:
            digit = _DIGITS[ch]
        else:
            total += (digit or 1) * _UNITS[ch]
            digit = 0
    return total + digit


def normalize(text: str) -> str:
    """Simplified Chinese, NFKC (full-width → ASCII), lower case, single spaces."""
    text = unicodedata.normalize("NFKC", _t2s().convert(text)).lower()
    text = _NUMERAL.sub(lambda m: str(chinese_number(m.group(1))), text)
    return re.sub(r"\s+", " ", text).strip()
