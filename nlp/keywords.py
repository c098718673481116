"""Keyword scorer: weighted category keywords, negative keywords, out-of-scope topics, emergency cues.

Built from a ``CategoryTree`` (the shipped YAML plus administrators' edits) in milliseconds, so a
keyword edit only rebuilds this index, never the trained model.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from categories import CategoryTree
from nlp.normalize import normalize_text
from nlp.phrases import Hit, PhraseIndex
from nlp.rules import Rule

NAME_WEIGHT = 0.8  # a class's own name counts, a little below a curated keyword


@dataclass
class KeywordResult:
    scores: dict[str, float] = field(default_factory=dict)  # label → summed keyword weight
    matched: dict[str, list[str]] = field(default_factory=dict)  # label → keywords found
    negated: dict[str, list[str]] = field(default_factory=dict)  # label → negative keywords found
    out_of_scope: list[tuple[Rule, str]] = field(default_factory=list)
    urgent: list[tuple[Rule, str]] = field(default_factory=list)


class KeywordScorer:
    def __init__(self, tree: CategoryTree, out_of_scope: tuple[Rule, ...] = (),
                 urgent: tuple[Rule, ...] = ()) -> None:
        positive: list[tuple[str, tuple[str, float]]] = []
        negative: list[tuple[str, str]] = []
        for cat in tree.enabled():
            seen: set[str] = set()
            for kw in cat.keywords():
                text = normalize_text(kw.text)
                if text and text not in seen:
                    seen.add(text)
                    positive.append((text, (cat.label, kw.weight)))
            for name in (cat.name_zh, cat.name_en):
                text = normalize_text(name)
                if text and text not in seen:
                    seen.add(text)
                    positive.append((text, (cat.label, NAME_WEIGHT)))
            negative.extend((normalize_text(n), cat.label) for n in cat.negative if n.strip())
        self.positive: PhraseIndex[tuple[str, float]] = PhraseIndex(positive)
        self.negative: PhraseIndex[str] = PhraseIndex(negative, fuzzy_min_len=99)
        self.oos: PhraseIndex[Rule] = PhraseIndex(
            ((p, r) for r in out_of_scope for p in r.phrases), fuzzy_min_len=99)
        self.urgent: PhraseIndex[Rule] = PhraseIndex(
            ((p, r) for r in urgent for p in r.phrases), fuzzy_min_len=99)
        self.version = tree.version

    def words(self) -> list[str]:
        """Every phrase the scorer looks for (for the tokenizer's user dictionary)."""
        return [h for idx in (self.positive, self.negative, self.oos, self.urgent)
                for h in idx._payloads]

    def score(self, text: str) -> KeywordResult:
        """Score normalised ``text``."""
        result = KeywordResult()
        hits: list[Hit[tuple[str, float]]] = self.positive.find(text)
        if not hits:
            hits = self.positive.find_fuzzy(text, exclude=set())
        for hit in hits:
            for label, weight in hit.payloads:
                if hit.phrase in result.matched.get(label, ()):
                    continue
                result.scores[label] = result.scores.get(label, 0.0) + weight * hit.similarity
                shown = hit.phrase if hit.similarity == 1.0 else f"{hit.phrase}~{text[hit.start:hit.end]}"
                result.matched.setdefault(label, []).append(shown)
        negated: dict[str, list[str]] = defaultdict(list)
        for hit in self.negative.find(text):
            for label in hit.payloads:
                negated[label].append(hit.phrase)
        for label in negated:
            result.scores.pop(label, None)
        result.negated = dict(negated)
        result.out_of_scope = [(r, h.phrase) for h in self.oos.find(text) for r in h.payloads
                               if len(text) <= int(r.info.get("max_chars", len(text)))]
        result.urgent = [(r, h.phrase) for h in self.urgent.find(text) for r in h.payloads]
        return result
