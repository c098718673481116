"""The one classifier used by the conversation engine, the hotline path, the CLI and the admin UI."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from functools import lru_cache
from itertools import islice
from operator import itemgetter
from pathlib import Path
from typing import Any

from categories import NONE_LABEL, CategoryTree, load_tree
from nlp.confidence import ConfidenceMap
from nlp.ensemble import combine
from nlp.extract import extract_phones, place_in
from nlp.keywords import KeywordResult, KeywordScorer
from nlp.letter import READ_AT_MOST, Letter, read
from nlp.model import Calibration, TextModel, shared_model
from nlp.normalize import Normalized, normalize, normalize_text, simplified
from nlp.rules import Rule, out_of_scope_rules, urgent_rules
from nlp.transcript import extract_transcript_citizen_text
from nlp.types import Classification, Scored

TOP_K = 5
log = logging.getLogger(__name__)
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
        self.allowed = frozenset({c.label for c in tree.enabled()} | {NONE_LABEL})
        self.calibration = self.model.calibration if self.model else Calibration()
        self.confidence = self.model.confidence if self.model else ConfidenceMap()

    @property
    def version(self) -> int:
        return self.tree.version

    def classify(self, text: str, lang: str | None = None) -> Classification:
        return self.classify_many([text], lang)[0]

    def classify_many(self, texts: Sequence[str], lang: str | None = None) -> list[Classification]:
        cited = [extract_transcript_citizen_text(t) for t in texts]
        letters = [self.read(t) for t in cited]
        norms = [normalize(letter.text, lang) for letter in letters]
        cats = self.model.predict([n.text for n in norms]) if self.model else [None] * len(norms)
        return [self._result(texts[i], cited[i], letters[i], norms[i], cats[i])
                for i in range(len(texts))]

    def read(self, text: str) -> Letter:
        """What the classifier reads of ``text``: the whole of a short message, the sentences
        stating the problem in a letter (``nlp.letter``)."""
        return read(text, self._keyword_weight)

    def keyword_labels(self, text: str) -> set[str]:
        """The classes whose keywords occur in ``text``."""
        return set(self.keywords.score(normalize_text(text)).scores)

    def _keyword_weight(self, sentence: str) -> float:
        return sum(self.keywords.score(normalize_text(sentence)).scores.values())

    def parts(self, texts: Sequence[str]) -> list[tuple[dict[str, float] | None, KeywordResult]]:
        """The model's and the keyword scorer's raw outputs (for fitting the calibration)."""
        norms = [normalize(self.read(extract_transcript_citizen_text(t)).text).text for t in texts]
        cats = self.model.predict(norms) if self.model else [None] * len(norms)
        return [(c, self.keywords.score(n)) for c, n in zip(cats, norms, strict=True)]

    def _result(self, original: str, cited: str, letter: Letter, norm: Normalized,
                cats: dict[str, float] | None) -> Classification:
        kw = self.keywords.score(norm.text)
        probs = combine(self._abstain_on_new_keywords(cats, kw), kw, self.allowed, self.calibration)
        # a stable sort (ties keep label order), in C: cheaper than heapq.nlargest's Python loop
        ranked = sorted(probs.items(), key=itemgetter(1), reverse=True)[:TOP_K]
        top = [Scored(label, score) for label, score in ranked]
        if len(top) < 3:  # always offer at least three choices
            extra = (c.label for c in self.tree.enabled() if c.label not in probs)
            top.extend(Scored(label, 0.0) for label in islice(extra, 3 - len(top)))
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
            confidence=self.confidence(confidence),
            urgent=urgent,
            top=top,
            evidence=self._evidence(label, top, kw, cats, norm.lang, letter,
                                    transcript=cited is not original),
            place_text=self._place(letter, norm),
            phones=extract_phones(cited[:READ_AT_MOST]),
            language=norm.lang,
            keyword_version=self.tree.version,
        )

    @staticmethod
    def _place(letter: Letter, norm: Normalized) -> str | None:
        """The place named in the sentences stating the problem, else anywhere in what was read
        (a letter's background often names the writer's own compound or another city)."""
        if letter.evidence:
            found = place_in(simplified(" ".join(letter.evidence)))
            if found:
                return found
        return place_in(norm.simplified)

    def _abstain_on_new_keywords(self, cats: dict[str, float] | None,
                                 kw: KeywordResult) -> dict[str, float] | None:
        """An exact keyword the model never saw (an administrator's fresh edit) cannot be outvoted
        by the model: for that class the model abstains (gets its top probability)."""
        known = self.model.known_words if self.model else frozenset()
        if not cats or not known:
            return cats
        fresh = [lb for lb, words in kw.matched.items()
                 if any("~" not in w and w not in known for w in words)]
        if not fresh:
            return cats
        top = max(cats.values())
        return {**cats, **{lb: top for lb in fresh}}

    def _evidence(self, label: str, top: list[Scored], kw: KeywordResult,
                  cats: dict[str, float] | None, lang: str, letter: Letter,
                  transcript: bool) -> dict[str, Any]:
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
        if letter.evidence:
            evidence["sentences"] = list(letter.evidence)
        if transcript:
            evidence["transcript"] = "citizen turns only"
        return evidence


@lru_cache(maxsize=1)
def get_classifier() -> Classifier:
    """The process-wide classifier over the shipped category tree."""
    return Classifier(load_tree())


ModelSource = Callable[[], tuple[int, str | None]]


class HubClassifier(Classifier):
    """A classifier whose results name the trained model version that made them (for the admin)."""

    model_version: int = 0

    def classify_many(self, texts: Sequence[str], lang: str | None = None) -> list[Classification]:
        results = super().classify_many(texts, lang)
        for result in results:
            result.evidence["model_version"] = self.model_version
        return results


class ClassifierHub:
    """Hands out a classifier that follows administrators' keyword edits and model activations
    without a restart.

    ``version()`` is cheap (a number in the database) and is checked at most every
    ``check_every_s``; when it changes, ``load()`` returns ``(version, tree)`` and only the keyword
    index is rebuilt — the trained model is shared. ``active_model()`` (optional) gives
    ``(model version, directory)``, checked at the same time; directory None means ``model`` (by
    default the shipped one). A model that cannot be loaded is logged and the previous one kept.
    """

    def __init__(self, load: Callable[[], tuple[int, CategoryTree]], version: Callable[[], int],
                 check_every_s: float = 1.0, model: TextModel | object | None = _DEFAULT,
                 active_model: ModelSource | None = None) -> None:
        self._load = load
        self._version = version
        self._active_model = active_model
        self._check_every_s = check_every_s
        self._shipped = model
        self._model: TextModel | object | None = model
        self._lock = threading.Lock()
        self._classifier: HubClassifier | None = None
        self._loaded_version: int | None = None
        self._model_version = 0  # of the model in use
        self._seen_model_version = 0  # last one asked for, loaded or not
        self._checked_at = float("-inf")

    def current(self) -> HubClassifier:
        now = time.monotonic()
        if self._classifier is not None and now - self._checked_at < self._check_every_s:
            return self._classifier
        with self._lock:
            if self._classifier is None or now - self._checked_at >= self._check_every_s:
                self._checked_at = now
                model_changed = self._follow_model()
                if model_changed or self._classifier is None or self._version() != self._loaded_version:
                    version, tree = self._load()
                    tree.version = version
                    classifier = HubClassifier(tree, model=self._model)
                    classifier.model_version = self._model_version
                    self._classifier = classifier
                    self._loaded_version = version
            return self._classifier

    def _follow_model(self) -> bool:
        """Switch to the active model when its version moved; True when the model changed."""
        if self._active_model is None:
            return False
        version, directory = self._active_model()
        if version == self._seen_model_version:
            return False
        self._seen_model_version = version  # a bad one is not retried every second
        try:
            model = self._shipped if directory is None else shared_model(Path(directory))
            if model is None and directory is not None:
                raise FileNotFoundError(f"{directory}: no trained model there")
        except Exception:  # a bad directory must not stop classification; keep the old model
            log.exception("cannot load model version %s from %s; keeping the current one",
                          version, directory)
            return False
        self._model, self._model_version = model, version
        return True
