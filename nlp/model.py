"""The trained models shipped under nlp/data/model, over the same labels.

A spaCy text classifier (``textcat``, exclusive classes, bag of jieba words and word bigrams: the
directory itself) and a character n-gram logistic regression (``chars.npz``, robust to typos,
dialect spellings and unknown words; see ``nlp.charlinear``). Their log-probabilities are mixed
with a weight fitted at training time, so ``predict`` gives one distribution. Loaded once per
process and shared by every ``Classifier`` (a keyword edit never reloads it). The ensemble's
calibration (fitted on held-out training data) is stored beside it.
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import spacy
from spacy.language import Language

from nlp.bow import BowScorer
from nlp.charlinear import CharLinearModel
from nlp.confidence import CONFIDENCE_FILE, ConfidenceMap
from nlp.tokenize import add_words, zh_nlp

CALIBRATION_FILE = "ensemble.json"
CHARS_FILE = "chars.npz"
WORDS_FILE = "jieba_words.txt"  # the words jieba knew at training time
_FLOOR = 1e-6


def default_model_dir() -> Path:
    return Path(str(resources.files("nlp").joinpath("data", "model")))


@dataclass(frozen=True)
class Calibration:
    """Weights of the ensemble's logit: a·log p_model + b·keywords + bias_none + c·out_of_scope.

    ``p_model`` ∝ p_words^(1 - char_share) · p_chars^char_share.
    """

    char_share: float = 0.0
    model_weight: float = 1.0
    keyword_weight: float = 2.0
    none_bias: float = 0.0
    oos_weight: float = 3.0
    temperature: float = 1.0
    keyword_only_none: float = 0.5  # the "none" logit when there is no model

    @classmethod
    def load(cls, path: Path) -> Calibration:
        return cls(**json.loads(path.read_text("utf-8"))) if path.exists() else cls()

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(self.__dict__, indent=2, sort_keys=True) + "\n", "utf-8")


class TextModel:
    """Wraps both models; ``predict`` gives label → probability for each text."""

    def __init__(self, nlp: Language, calibration: Calibration, chars: CharLinearModel | None = None,
                 known_words: frozenset[str] = frozenset(),
                 confidence: ConfidenceMap | None = None) -> None:
        self.nlp = nlp
        self.confidence = confidence or ConfidenceMap()  # fitted on the real dev split
        self.chars = chars
        self.known_words = known_words  # keywords that existed when the model was trained
        self.calibration = calibration
        self.labels: tuple[str, ...] = tuple(nlp.get_pipe("textcat").labels)
        self._words = BowScorer(nlp)
        if chars is not None:  # both are trained on one label set; line the columns up by name
            self._char_columns = np.array([chars.labels.index(lb) for lb in self.labels], np.intp)

    @classmethod
    def load(cls, path: Path) -> TextModel:
        zh_nlp()  # jieba initialised with gazetteer words before the pipeline tokenises
        words_file = path / WORDS_FILE
        words = frozenset(words_file.read_text("utf-8").split("\n")) if words_file.exists() else frozenset()
        add_words(words)  # segment as at training time, whatever else this process added
        nlp = spacy.load(path)
        chars = CharLinearModel.load(path / CHARS_FILE) if (path / CHARS_FILE).exists() else None
        return cls(nlp, Calibration.load(path / CALIBRATION_FILE), chars, words,
                   ConfidenceMap.load(path / CONFIDENCE_FILE))

    def predict(self, texts: Sequence[str]) -> list[dict[str, float]]:
        """Empty texts get ``{}`` (no opinion): the BOW model cannot score a doc without tokens."""
        if len(texts) == 1:  # the webhook's case
            return [self._predict_one(texts[0])]
        share = self.calibration.char_share if self.chars is not None else 0.0
        todo, words, chars = self._scores(texts)
        return self._as_dicts(len(texts), todo, mix_rows(words, chars, share))

    def _predict_one(self, text: str) -> dict[str, float]:
        """``predict`` of one text in 1-D arrays: the float operations of a batch's row without
        the batch's masks, copies and 2-D bookkeeping, which cost more than the row itself."""
        if not text.strip():
            return {}
        words = self._words.predict_one(text).astype(np.float64)
        share = self.calibration.char_share
        chars = self.chars.probability(text) if self.chars is not None and share > 0.0 else None
        if chars is None:
            return dict(zip(self.labels, words.tolist(), strict=True))
        chars = chars[self._char_columns].astype(np.float64)
        if share >= 1.0:
            return dict(zip(self.labels, chars.tolist(), strict=True))
        logits = ((1 - share) * np.log(np.maximum(words, _FLOOR))
                  + share * np.log(np.maximum(chars, _FLOOR)))
        exp = np.exp(logits - logits.max())
        return dict(zip(self.labels, (exp / exp.sum()).tolist(), strict=True))

    def predict_each(self, texts: Sequence[str]) -> list[tuple[dict[str, float], dict[str, float]]]:
        """(word model, char model) distributions per text; the char one is ``{}`` when absent."""
        todo, words, chars = self._scores(texts)
        if chars is None:
            chars = np.full_like(words, np.nan)
        return list(zip(self._as_dicts(len(texts), todo, words),
                        self._as_dicts(len(texts), todo, chars), strict=True))

    def _scores(self, texts: Sequence[str]) -> tuple[list[int], np.ndarray, np.ndarray | None]:
        """The texts with something to read, and both models' probabilities for them (rows in
        ``self.labels`` order; a char row is NaN where the text has no known n-gram)."""
        todo = [i for i, t in enumerate(texts) if t.strip()]
        read = [texts[i] for i in todo]
        words = self._words.predict(read) if todo else np.empty((0, len(self.labels)))
        chars = None
        if self.chars is not None:
            chars = self.chars.probabilities(read)[:, self._char_columns]
        return todo, words.astype(np.float64), chars

    def _as_dicts(self, n: int, todo: list[int], rows: np.ndarray) -> list[dict[str, float]]:
        out: list[dict[str, float]] = [{} for _ in range(n)]
        for i, row in zip(todo, rows.tolist(), strict=True):
            if row[0] == row[0]:  # not NaN
                out[i] = dict(zip(self.labels, row, strict=True))
        return out


def mix_rows(words: np.ndarray, chars: np.ndarray | None, share: float) -> np.ndarray:
    """Row-wise geometric mixture of the two models' distributions, renormalised; where the char
    model has no opinion (NaN row) the word model's row stands."""
    if chars is None or share <= 0.0:
        return words
    known = ~np.isnan(chars[:, 0])
    if share >= 1.0:
        return np.where(known[:, None], chars, words)
    out = words.copy()
    logits = ((1 - share) * np.log(np.maximum(words[known], _FLOOR))
              + share * np.log(np.maximum(chars[known], _FLOOR)))
    exp = np.exp(logits - logits.max(axis=1, keepdims=True))
    out[known] = exp / exp.sum(axis=1, keepdims=True)
    return out


def mix(words: dict[str, float], chars: dict[str, float], share: float) -> dict[str, float]:
    """``mix_rows`` for one text's label → probability dicts (``{}``: no opinion)."""
    if not words:
        return chars
    labels = list(words)
    char_row = [chars.get(lb, 0.0) for lb in labels] if chars else [math.nan] * len(labels)
    row = mix_rows(np.array([list(words.values())]), np.array([char_row]), share)[0]
    return dict(zip(labels, row.tolist(), strict=True))


_cache: dict[Path, TextModel | None] = {}
_lock = threading.Lock()


def shared_model(path: Path | None = None) -> TextModel | None:
    """The process-wide model at ``path`` (default: shipped); None when it has not been trained."""
    path = path or default_model_dir()
    with _lock:
        if path not in _cache:
            _cache[path] = TextModel.load(path) if (path / "config.cfg").exists() else None
        return _cache[path]


def forget(path: Path | None = None) -> None:
    """Drop a cached model (after retraining)."""
    with _lock:
        _cache.pop(path or default_model_dir(), None)
