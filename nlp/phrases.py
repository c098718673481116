"""Find many phrases in a short text at once: one compiled regex, fuzzy matching only as a fallback.

Exact matching is leftmost-longest (so "路灯井盖" wins over "路灯"): a dictionary walk for Chinese
phrases, a walk over crudely stemmed words for English ones (plurals, -ed, -ing); the
fuzzy pass (rapidfuzz) runs only for phrases whose characters mostly occur in the text, which keeps
it cheap enough for thousands of messages a second.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from operator import itemgetter
from typing import Generic, TypeVar

import numpy as np
from rapidfuzz import fuzz, process

P = TypeVar("P")

_LATIN_WORD = re.compile(r"^[a-z0-9][a-z0-9 '\-]*$")
_HAS_LATIN = re.compile(r"[a-z]")
_WORD = re.compile(r"[a-z0-9]+")


@dataclass(frozen=True)
class Hit(Generic[P]):
    phrase: str
    start: int
    end: int
    payloads: tuple[P, ...]
    similarity: float = 1.0  # 1.0 for an exact match


def _stem(word: str) -> str:
    """Crude English stemming, applied alike to keywords and text: lights → light, parked → park."""
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 4 and word.endswith(("ses", "xes", "zes", "ches", "shes")):
        return word[:-2]
    for suffix in ("ing", "ed", "s"):
        if len(word) > len(suffix) + 2 and word.endswith(suffix) and not word.endswith("ss"):
            return word[: -len(suffix)]
    return word


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
        lengths: dict[str, set[int]] = defaultdict(set)
        words: dict[str, set[int]] = defaultdict(set)
        self._latin: dict[tuple[str, ...], str] = {}
        for phrase in ordered:
            if _LATIN_WORD.match(phrase):
                key = tuple(_stem(w) for w in _WORD.findall(phrase))
                if key:
                    self._latin.setdefault(key, phrase)
                    words[key[0]].add(len(key))
            else:
                lengths[phrase[0]].add(len(phrase))
        self._lengths = {ch: sorted(ls, reverse=True) for ch, ls in lengths.items()}
        self._word_lengths = {w: sorted(ls, reverse=True) for w, ls in words.items()}
        self._fuzzy = _FuzzyIndex([p for p in ordered if self._fuzzy_eligible(p, fuzzy_min_len)])

    def __len__(self) -> int:
        return len(self._payloads)

    @staticmethod
    def _fuzzy_eligible(phrase: str, min_len: int) -> bool:
        latin = bool(_LATIN_WORD.match(phrase))
        return len(phrase) >= (min_len + 2 if latin else min_len)

    def find(self, text: str) -> list[Hit[P]]:
        """Leftmost-longest, non-overlapping exact matches."""
        hits: list[Hit[P]] = []
        i, n = 0, len(text)
        while i < n:
            for size in self._lengths.get(text[i], ()):
                phrase = text[i:i + size]
                if phrase in self._payloads:
                    hits.append(Hit(phrase, i, i + size, self._payloads[phrase]))
                    i += size
                    break
            else:
                i += 1
        if self._latin and _HAS_LATIN.search(text):
            hits.extend(self._find_words(text))
            hits.sort(key=lambda h: h.start)
        return hits

    def _find_words(self, text: str) -> list[Hit[P]]:
        """English phrases as sequences of crudely stemmed words (plurals, -ed, -ing)."""
        tokens = [(m.start(), m.end(), _stem(m.group())) for m in _WORD.finditer(text)]
        stems = [t[2] for t in tokens]
        hits: list[Hit[P]] = []
        i = 0
        while i < len(tokens):
            for size in self._word_lengths.get(stems[i], ()):
                if i + size > len(tokens):
                    continue
                phrase = self._latin.get(tuple(stems[i:i + size]))
                if phrase is not None:
                    hits.append(Hit(phrase, tokens[i][0], tokens[i + size - 1][1],
                                    self._payloads[phrase]))
                    i += size
                    break
            else:
                i += 1
        return hits

    def find_fuzzy(self, text: str, exclude: set[str], cutoff: float = 75.0) -> list[Hit[P]]:
        """Near matches (typos, one character off) of phrases not already found exactly, in phrase
        order. One rapidfuzz call scores every candidate; only the hits are aligned."""
        candidates = [p for p in self._fuzzy.candidates(text) if p not in exclude]
        scored = process.extract(text, candidates, scorer=fuzz.partial_ratio, processor=None,
                                 score_cutoff=cutoff, limit=None)
        hits = []
        for phrase, _, _ in sorted(scored, key=itemgetter(2)):
            found = fuzz.partial_ratio_alignment(phrase, text, score_cutoff=cutoff)
            if found is None:
                continue
            start, end, score = found.dest_start, found.dest_end, found.score
            if _LATIN_WORD.match(phrase):  # English compares whole words: "sign" ≠ "signpost"
                start, end = _word_start(text, start), _word_end(text, end)
                score = fuzz.ratio(phrase, text[start:end], score_cutoff=cutoff)
                if not score:
                    continue
            hits.append(Hit(phrase, start, end, self._payloads[phrase], similarity=score / 100.0))
        return hits


def _word_start(text: str, i: int) -> int:
    while i > 0 and text[i - 1].isascii() and text[i - 1].isalnum():
        i -= 1
    return i


def _word_end(text: str, i: int) -> int:
    while i < len(text) and text[i].isascii() and text[i].isalnum():
        i += 1
    return i


class _FuzzyIndex:
    """Phrases worth a fuzzy comparison with a text: those sharing at least three of their
    characters with it and missing at most one. Each character lists the phrases holding it, so
    the characters a phrase shares with a text are counted for every phrase at once (one
    ``bincount`` over the lists of the text's characters), not phrase by phrase."""

    def __init__(self, phrases: list[str]) -> None:
        self._phrases = phrases
        chars = [frozenset(p.replace(" ", "")) for p in phrases]
        self._needed = np.array([max(3, len(c) - 1) for c in chars], np.intp)
        holding: dict[str, list[int]] = defaultdict(list)
        for i, phrase_chars in enumerate(chars):
            if len(phrase_chars) >= 3:
                for ch in phrase_chars:
                    holding[ch].append(i)
        self._holding = {ch: np.array(ids, np.intp) for ch, ids in holding.items()}

    def candidates(self, text: str) -> list[str]:
        lists = [self._holding[ch] for ch in set(text) if ch in self._holding]
        if not lists:
            return []
        shared = np.bincount(np.concatenate(lists), minlength=len(self._phrases))
        return [self._phrases[i] for i in np.flatnonzero(shared >= self._needed).tolist()]
