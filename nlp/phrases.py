"""Find many phrases in a short text at once: one compiled regex, fuzzy matching only as a fallback.

Exact matching is one pass of a longest-first alternation (so "路灯井盖" wins over "路灯"); the
fuzzy pass (rapidfuzz) runs only for phrases whose characters mostly occur in the text, which keeps
it cheap enough for thousands of messages a second.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Generic, TypeVar

from rapidfuzz import fuzz

P = TypeVar("P")

_LATIN_WORD = re.compile(r"^[a-z0-9][a-z0-9 '\-]*$")


@dataclass(frozen=True)
class Hit(Generic[P]):
    phrase: str
    start: int
    end: int
    payloads: tuple[P, ...]
    similarity: float = 1.0  # 1.0 for an exact match


def _pattern(phrase: str) -> str:
    if _LATIN_WORD.match(phrase):
        # English: whole words, tolerate plural / -ed / -ing endings and flexible spacing
        body = r"[\s\-]*".join(re.escape(w) for w in phrase.split())
        return rf"\b{body}(?:s|es|ed|d|ing)?\b"
    return re.escape(phrase)


class PhraseIndex(Generic[P]):
    """Maps phrases (already normalised) to payloads; ``find`` returns non-overlapping hits."""

    def __init__(self, items: Iterable[tuple[str, P]], fuzzy_min_len: int = 4) -> None:
        table: dict[str, list[P]] = defaultdict(list)
        for phrase, payload in items:
            phrase = phrase.strip().lower()
            if phrase:
                table[phrase].append(payload)
        self._payloads = {k: tuple(v) for k, v in table.items()}
        ordered = sorted(self._payloads, key=lambda p: (-len(p), p))
        self._groups = {f"p{i}": p for i, p in enumerate(ordered)}
        self._regex = (
            re.compile("|".join(f"(?P<p{i}>{_pattern(p)})" for i, p in enumerate(ordered)))
            if ordered else None
        )
        self._fuzzy: dict[str, list[str]] = defaultdict(list)  # char → candidate phrases
        for phrase in ordered:
            if self._fuzzy_eligible(phrase, fuzzy_min_len):
                for ch in set(phrase.replace(" ", "")):
                    self._fuzzy[ch].append(phrase)

    def __len__(self) -> int:
        return len(self._payloads)

    @staticmethod
    def _fuzzy_eligible(phrase: str, min_len: int) -> bool:
        latin = bool(_LATIN_WORD.match(phrase))
        return len(phrase) >= (min_len + 2 if latin else min_len)

    def find(self, text: str) -> list[Hit[P]]:
        if self._regex is None:
            return []
        hits = []
        for m in self._regex.finditer(text):
            phrase = self._groups[m.lastgroup or ""]
            hits.append(Hit(phrase, m.start(), m.end(), self._payloads[phrase]))
        return hits

    def find_fuzzy(self, text: str, exclude: set[str], cutoff: float = 75.0) -> list[Hit[P]]:
        """Near matches (typos, one character off) of phrases not already found exactly."""
        counts: dict[str, int] = defaultdict(int)
        for ch in set(text):
            for phrase in self._fuzzy.get(ch, ()):
                counts[phrase] += 1
        hits = []
        for phrase, shared in counts.items():
            distinct = len(set(phrase.replace(" ", "")))
            if phrase in exclude or shared < distinct - 1 or shared < 3:
                continue
            found = fuzz.partial_ratio_alignment(phrase, text, score_cutoff=cutoff)
            if found is not None:
                hits.append(Hit(phrase, found.dest_start, found.dest_end, self._payloads[phrase],
                                similarity=found.score / 100.0))
        return hits
