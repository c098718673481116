"""The one classifier used by the conversation engine, the hotline path, the CLI and the admin UI."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import Any

from categories import NONE_LABEL, CategoryTree, load_tree
from nlp.ensemble import combine
from nlp.extract import extract_phones, extract_place
from nlp.keywords import KeywordResult, KeywordScorer
from nlp.model import Calibration, TextModel, shared_model
from nlp.normalize import Normalized, normalize
from nlp.rules import Rule, out_of_scope_rules, urgent_rules
from nlp.tokenize import add_words
from nlp.transcript import extract_transcript_citizen_text
from nlp.types import Classification, Scored

TOP_K = 5
_DEFAULT = object()


@lru_cache(maxsize=1)
def _default_rules() -> tuple[tuple[Rule, ...], tuple[Rule, ...]]:
    return out_of_scope_rules(), urgent_rules()


class Classifier:
    """Classifies one message (or a batch) against a category tree.

    ``model`` defaults to the shipped trained model (shared, loaded once); pass ``None`` for the
    keyword scorer alone.
    """

    def __init__(self, tree: CategoryTree, model: TextModel | object | None = _DEFAULT,
                 out_of_scope: tuple[Rule, ...] | None = None,
                 urgent: tuple[Rule, ...] | None = None) -> None:
        default_oos, default_urgent = _default_rules()
        self.tree = tree
        self.model: TextModel | None = shared_model() if model is _DEFAULT else model  # type: ignore[assignment]
        self.keywords = KeywordScorer(
            tree,
            default_oos if out_of_scope is None else out_of_scope,
            default_urgent if urgent is None else urgent,
        )
        add_words(self.keywords.words())
        self.allowed = {c.label for c in tree.enabled()} | {NONE_LABEL}
        self.calibration = self.model.calibration if self.model else Calibration()

    @property
    def version(self) -> int:
        return self.tree.version

    def classify(self, text: str, lang: str | None = None) -> Classification:
        return self.classify_many([text], lang)[0]

    def classify_many(self, texts: Sequence[str], lang: str | None = None) -> list[Classification]:
        cited = [extract_transcript_citizen_text(t) for t in texts]
        norms = [normalize(t, lang) for t in cited]
        cats = self.model.predict([n.text for n in norms]) if self.model else [None] * len(norms)
        return [self._result(texts[i], cited[i], norms[i], cats[i]) for i in range(len(texts))]

    def parts(self, texts: Sequence[str]) -> list[tuple[dict[str, float] | None, KeywordResult]]:
        """The model's and the keyword scorer's raw outputs (for fitting the calibration)."""
        norms = [normalize(extract_transcript_citizen_text(t)).text for t in texts]
        cats = self.model.predict(norms) if self.model else [None] * len(norms)
        return [(c, self.keywords.score(n)) for c, n in zip(cats, norms, strict=True)]

    def _result(self, original: str, cited: str, norm: Normalized,
                cats: dict[str, float] | None) -> Classification:
        kw = self.keywords.score(norm.text)
        probs = combine(cats, kw, self.allowed, self.calibration)
        ranked = sorted(probs.items(), key=lambda kv: (-kv[1], kv[0]))
        top = [Scored(label, score) for label, score in ranked[:TOP_K]]
        for cat in self.tree.enabled():  # always offer at least three choices
            if len(top) >= 3:
                break
            if cat.label not in probs:
                top.append(Scored(cat.label, 0.0))
        label, confidence = ranked[0]
        category = self.tree.get(label)
        urgent = bool(kw.urgent) or bool(category and category.urgent)
        return Classification(
            label=label,
            kind=category.kind if category else None,
            major=category.major if category else None,
            minor=category.minor if category else None,
            name=category.name_zh if category else "",
            name_en=category.name_en if category else "",
            confidence=confidence,
            urgent=urgent,
            top=top,
            evidence=self._evidence(label, top, kw, cats, norm.lang, transcript=cited is not original),
            place_text=extract_place(cited),
            phones=extract_phones(cited),
            language=norm.lang,
            keyword_version=self.tree.version,
        )

    def _evidence(self, label: str, top: list[Scored], kw: KeywordResult,
                  cats: dict[str, float] | None, lang: str, transcript: bool) -> dict[str, Any]:
        shown = [s.label for s in top[:3]]
        evidence: dict[str, Any] = {
            "keywords": {lb: kw.matched[lb] for lb in shown if lb in kw.matched},
            "model": ({lb: round(cats.get(lb, 0.0), 4) for lb in shown} if cats is not None
                      else None),
        }
        if kw.negated:
            evidence["negative"] = kw.negated
        if label == NONE_LABEL and kw.out_of_scope:
            rule, cue = kw.out_of_scope[0]
            evidence["out_of_scope"] = {"topic": rule.name, "cue": cue, "referral": rule.reply(lang)}
        if kw.urgent:
            rule, cue = kw.urgent[0]
            evidence["urgent"] = {"cue": cue, "kind": rule.name, "call": rule.call,
                                  "reply": rule.reply(lang)}
        elif label != NONE_LABEL and (cat := self.tree.get(label)) and cat.urgent:
            evidence["urgent"] = {"class": label, "call": "119"}
        if transcript:
            evidence["transcript"] = "citizen turns only"
        return evidence


@lru_cache(maxsize=1)
def get_classifier() -> Classifier:
    """The process-wide classifier over the shipped category tree."""
    return Classifier(load_tree())


class ClassifierHub:
    """Hands out a classifier that follows administrators' keyword edits without a restart.

    ``version()`` is cheap (a number in the database) and is checked at most every
    ``check_every_s``; when it changes, ``load()`` returns ``(version, tree)`` and only the keyword
    index is rebuilt — the trained model is shared.
    """

    def __init__(self, load: Callable[[], tuple[int, CategoryTree]], version: Callable[[], int],
                 check_every_s: float = 1.0, model: TextModel | object | None = _DEFAULT) -> None:
        self._load = load
        self._version = version
        self._check_every_s = check_every_s
        self._model = model
        self._lock = threading.Lock()
        self._classifier: Classifier | None = None
        self._loaded_version: int | None = None
        self._checked_at = float("-inf")

    def current(self) -> Classifier:
        now = time.monotonic()
        if self._classifier is not None and now - self._checked_at < self._check_every_s:
            return self._classifier
        with self._lock:
            if self._classifier is None or now - self._checked_at >= self._check_every_s:
                self._checked_at = now
                if self._classifier is None or self._version() != self._loaded_version:
                    version, tree = self._load()
                    tree.version = version
                    self._classifier = Classifier(tree, model=self._model)
                    self._loaded_version = version
            return self._classifier

