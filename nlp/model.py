"""The trained spaCy text classifier (``textcat``, exclusive classes) shipped under nlp/data/model.

Loaded once per process and shared by every ``Classifier`` (a keyword edit never reloads it).
The ensemble's calibration (fitted at training time on held-out data) is stored beside it.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import spacy
from spacy.language import Language

from nlp.tokenize import zh_nlp

CALIBRATION_FILE = "ensemble.json"


def default_model_dir() -> Path:
    return Path(str(resources.files("nlp").joinpath("data", "model")))


@dataclass(frozen=True)
class Calibration:
    """Weights of the ensemble's logit: a·log p_model + b·keywords + bias_none + c·out_of_scope."""

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
    """Wraps the spaCy pipeline; ``predict`` gives label → probability for each text."""

    def __init__(self, nlp: Language, calibration: Calibration) -> None:
        self.nlp = nlp
        self.calibration = calibration
        self.labels: tuple[str, ...] = tuple(nlp.get_pipe("textcat").labels)

    @classmethod
    def load(cls, path: Path) -> TextModel:
        zh_nlp()  # jieba initialised with gazetteer words before the pipeline tokenises
        nlp = spacy.load(path)
        return cls(nlp, Calibration.load(path / CALIBRATION_FILE))

    def predict(self, texts: Sequence[str]) -> list[dict[str, float]]:
        """Empty texts get ``{}`` (no opinion): the BOW model cannot score a doc without tokens."""
        out: list[dict[str, float]] = [{} for _ in texts]
        todo = [i for i, t in enumerate(texts) if t.strip()]
        if len(todo) == 1:
            out[todo[0]] = dict(self.nlp(texts[todo[0]]).cats)
        elif todo:
            docs = self.nlp.pipe((texts[i] for i in todo), batch_size=256)
            for i, doc in zip(todo, docs, strict=True):
                out[i] = dict(doc.cats)
        return out


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
