"""Finding gazetteer names in a normalised phrase: exact first, then one-typo fuzzy.

Exact matches take the longest names first so that 红旗街道办事处 wins over 红旗街.
The fuzzy pass (rapidfuzz Levenshtein over windows of the unmatched text) accepts one
edit in a Chinese name of 4+ characters, and in a 3-character one as long as the last
character — the type suffix 路/街/站… — is intact (九洲路 → 九州路, but never
人民街 → 人民路), and up to two edits in long Latin names (jiuzou raod).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from itertools import accumulate

import numpy as np
from rapidfuzz.distance import Levenshtein
from rapidfuzz.process import cdist

from geo.text import normalize

_LATIN = re.compile(r"[a-z]")
_SEPARATORS = frozenset("#,，。、;；:：!！?？()（）")


@dataclass(frozen=True)
class Mention:
    key: str  # the canonical name (gazetteer name or district)
    alias: str  # the normalised form that was found
    start: int
    end: int
    score: float  # 1.0 exact, below for fuzzy


class NameMatcher:
    """All aliases of a set of keys; `find` returns non-overlapping mentions in text order."""

    def __init__(self, names: dict[str, list[str]]):
        pairs = {}
        for key, aliases in names.items():
            for alias in aliases:
                norm = normalize(alias)
                if len(norm) >= 2:
                    pairs.setdefault(norm, key)
        self._aliases = sorted(pairs, key=len, reverse=True)
        self._key = pairs
        self._fuzzy = [a for a in self._aliases if len(a) >= 3]
        self._window_sizes = sorted({size for a in self._fuzzy
                                     for size in (len(a) - 1, len(a), len(a) + 1)})

    def find(self, text: str, fuzzy: bool = True) -> list[Mention]:
        taken = np.zeros(len(text), dtype=bool)
        found: list[Mention] = []
        for alias in self._aliases:
            start = text.find(alias)
            while start >= 0:
                end = start + len(alias)
                if not taken[start:end].any() and self._word_bounded(text, start, end, alias):
                    taken[start:end] = True
                    found.append(Mention(self._key[alias], alias, start, end, 1.0))
                start = text.find(alias, start + 1)
        if fuzzy:
            found.extend(self._fuzzy_find(text, taken))
        return sorted(found, key=lambda m: m.start)

    @staticmethod
    def _word_bounded(text: str, start: int, end: int, alias: str) -> bool:
        """Latin names must not be part of a longer word."""
        if not _LATIN.search(alias):
            return True
        before = text[start - 1] if start else " "
        after = text[end] if end < len(text) else " "
        return not (before.isalnum() and before.isascii()) and not (after.isalnum() and after.isascii())

    def _windows(self, text: str, taken: np.ndarray) -> list[tuple[int, int]]:
        """Spans one character shorter, as long or longer than a fuzzy alias, that cover no
        matched name and no separator (a prefix count of blocked characters per span)."""
        blocked = (t or ch in _SEPARATORS for t, ch in zip(taken.tolist(), text, strict=True))
        before = list(accumulate(blocked, initial=0))
        return [(start, start + size) for size in self._window_sizes
                for start in range(len(text) - size + 1)
                if before[start + size] == before[start]]

    def _fuzzy_find(self, text: str, taken: np.ndarray) -> list[Mention]:
        unique = self._windows(text, taken) if self._fuzzy else []
        if not unique:
            return []
        dist = cdist([text[s:e] for s, e in unique], self._fuzzy, scorer=Levenshtein.distance,
                     score_cutoff=2, dtype=np.int32)
        candidates = []
        for wi, ai in zip(*np.nonzero(dist <= 2), strict=True):
            start, end = unique[wi]
            alias, d = self._fuzzy[ai], int(dist[wi, ai])
            window = text[start:end]
            if window != window.strip():
                ok = False
            elif _LATIN.search(alias):
                ok = (len(alias) >= 8 and d <= 2) or (len(alias) >= 5 and d <= 1)
            else:
                ok = d == 1 and " " not in window and (len(alias) >= 4 or window[-1] == alias[-1])
            if ok:
                candidates.append((d, -len(alias), start, end, alias))
        found = []
        for d, _, start, end, alias in sorted(candidates):
            if taken[start:end].any():
                continue
            taken[start:end] = True
            found.append(Mention(self._key[alias], alias, start, end, 1.0 - d / len(alias)))
        return found
