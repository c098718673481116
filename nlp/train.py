"""Train the spaCy text classifier and fit the ensemble's calibration; ``python -m nlp.train``.

Deterministic: fixed seed, sorted inputs, fixed epochs. Steps:
1. hold out every 5th example per class, train both pipelines (jieba words, characters) on the
   rest; on the held-out part fit the words/characters mixture (likelihood), then the ensemble
   weights (accuracy) and the temperature (likelihood) — the dev set is never read;
2. train again on everything and save both pipelines and ``ensemble.json`` to ``nlp/data/model``
   (the char pipeline in ``char/``).
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import random
import shutil
import sys
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path

import spacy
from spacy.language import Language
from spacy.training import Example
from spacy.util import fix_random_seed, minibatch

from categories import NONE_LABEL, CategoryTree, load_tree
from nlp.classifier import Classifier
from nlp.ensemble import combine
from nlp.keywords import KeywordResult, KeywordScorer
from nlp.model import (
    CALIBRATION_FILE,
    CHAR_DIR,
    WORDS_FILE,
    Calibration,
    TextModel,
    default_model_dir,
    forget,
    mix,
)
from nlp.normalize import normalize_text
from nlp.tokenize import add_words, gazetteer_names
from nlp.transcript import extract_transcript_citizen_text

SEED = 0
EPOCHS = 12
LEARN_RATE = 0.001
HOLD_OUT_EVERY = 5
BOW_LENGTH = 2**15
CHAR_BOW_LENGTH = 2**14  # keeps the shipped model small; char n-grams are fewer
NGRAM_SIZE = 2  # jieba words: unigrams and bigrams
CHAR_NGRAM_SIZE = 3  # characters: 1- to 3-grams
CHAR_SHARES = (0.0, 0.2, 0.35, 0.5, 0.65, 0.8, 1.0)


@dataclass(frozen=True)
class Record:
    text: str
    labels: tuple[str, ...]  # any of them is right; the first is the training target


def read_jsonl(path: Path) -> list[Record]:
    out = []
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                data = json.loads(line)
                label = data["label"]
                labels = tuple(label) if isinstance(label, list) else (label,)
                out.append(Record(str(data["text"]), labels))
            except (ValueError, KeyError, TypeError) as exc:
                raise ValueError(f"{path.name}:{lineno}: {exc}") from exc
    return out


def training_files() -> list[Path]:
    data = Path(str(resources.files("nlp").joinpath("data")))
    return sorted(data.glob("train_*.jsonl"))


def load_training(tree: CategoryTree, files: Sequence[Path] | None = None) -> list[Record]:
    """Training records whose labels exist in the tree (others are reported and skipped)."""
    records = []
    for path in files if files is not None else training_files():
        for rec in read_jsonl(path):
            known = tuple(lb for lb in rec.labels if lb == NONE_LABEL or lb in tree)
            if known:
                records.append(Record(rec.text, known))
            else:
                print(f"skipping {path.name}: unknown label {rec.labels}", file=sys.stderr)
    return records


def _prepare(text: str) -> str:
    return normalize_text(extract_transcript_citizen_text(text))


def _new_pipeline(labels: Iterable[str], chars: bool = False) -> Language:
    segmenter = "char" if chars else "jieba"
    nlp = spacy.blank("zh", config={"nlp": {"tokenizer": {"segmenter": segmenter}}})
    textcat = nlp.add_pipe("textcat", config={"model": {
        "@architectures": "spacy.TextCatBOW.v3", "exclusive_classes": True,
        "ngram_size": CHAR_NGRAM_SIZE if chars else NGRAM_SIZE, "no_output_layer": False,
        "length": CHAR_BOW_LENGTH if chars else BOW_LENGTH,
    }})
    for label in sorted(labels):
        textcat.add_label(label)
    return nlp


def train_pipeline(records: Sequence[Record], epochs: int = EPOCHS, chars: bool = False,
                   learn_rate: float = LEARN_RATE) -> Language:
    fix_random_seed(SEED)
    labels = sorted({r.labels[0] for r in records})
    nlp = _new_pipeline(labels, chars)
    examples = []
    for rec in records:
        text = _prepare(rec.text)
        if not text.strip():
            continue
        doc = nlp.make_doc(text)
        examples.append(Example.from_dict(doc, {"cats": {lb: float(lb == rec.labels[0]) for lb in labels}}))
    optimizer = nlp.initialize(lambda: examples)
    optimizer.learn_rate = learn_rate
    rng = random.Random(SEED)
    for _ in range(epochs):
        rng.shuffle(examples)
        losses: dict[str, float] = {}
        for batch in minibatch(examples, size=16):
            nlp.update(batch, sgd=optimizer, drop=0.1, losses=losses)
    return nlp


def split(records: Sequence[Record]) -> tuple[list[Record], list[Record]]:
    by_label: dict[str, list[Record]] = defaultdict(list)
    for rec in records:
        by_label[rec.labels[0]].append(rec)
    train, held = [], []
    for label in sorted(by_label):
        for i, rec in enumerate(by_label[label]):
            (held if i % HOLD_OUT_EVERY == HOLD_OUT_EVERY - 1 else train).append(rec)
    return train, held


def _score(parts: Sequence[tuple[dict[str, float] | None, KeywordResult]], records: Sequence[Record],
           allowed: set[str], cal: Calibration) -> tuple[float, float]:
    """(accuracy, mean negative log-likelihood of the best acceptable label)."""
    right, nll = 0, 0.0
    for (cats, kw), rec in zip(parts, records, strict=True):
        probs = combine(cats, kw, allowed, cal)
        best = max(probs, key=lambda k: probs[k])
        right += best in rec.labels
        nll -= math.log(max(max(probs.get(lb, 0.0) for lb in rec.labels), 1e-9))
    return right / len(records), nll / len(records)


def fit_calibration(parts: Sequence[tuple[dict[str, float] | None, KeywordResult]],
                    records: Sequence[Record], allowed: set[str]) -> tuple[Calibration, float]:
    """Grid search of the ensemble weights for accuracy, then the temperature for likelihood."""
    best: tuple[float, float, Calibration] | None = None
    for a, b, bias, oos in itertools.product((0.5, 1.0, 1.5), (0.5, 1.0, 2.0, 3.0, 4.0),
                                             (-1.0, 0.0, 1.0, 2.0), (1.0, 3.0, 5.0)):
        cal = Calibration(model_weight=a, keyword_weight=b, none_bias=bias, oos_weight=oos)
        acc, nll = _score(parts, records, allowed, cal)
        if best is None or (acc, -nll) > (best[0], -best[1]):
            best = (acc, nll, cal)
    assert best is not None
    acc, _, cal = best
    temps = [0.4 + 0.1 * i for i in range(27)]
    scored = [(_score(parts, records, allowed, replace(cal, temperature=t))[1], t) for t in temps]
    return replace(cal, temperature=round(min(scored)[1], 2)), acc


def fit_char_share(raw: Sequence[tuple[dict[str, float], dict[str, float]]],
                   records: Sequence[Record]) -> float:
    """The words/characters mixture with the best held-out likelihood of the model alone."""
    def nll(share: float) -> float:
        total = 0.0
        for (words, chars), rec in zip(raw, records, strict=True):
            probs = mix(words, chars, share)
            total -= math.log(max(max(probs.get(lb, 0.0) for lb in rec.labels), 1e-9))
        return total
    return min(CHAR_SHARES, key=nll)


def _train_both(records: Sequence[Record]) -> TextModel:
    return TextModel(train_pipeline(records), Calibration(), train_pipeline(records, chars=True))


def train(out_dir: Path | None = None, files: Sequence[Path] | None = None) -> dict[str, float]:
    """Train, calibrate and save; returns figures measured on the held-out training part."""
    out_dir = out_dir or default_model_dir()
    tree = load_tree()
    words = sorted({w for w in (*KeywordScorer(tree).words(), *gazetteer_names()) if w.strip()})
    add_words(words)
    records = load_training(tree, files)
    if not records:
        raise ValueError("no training data (nlp/data/train_*.jsonl)")
    train_part, held = split(records)
    probe_model = _train_both(train_part)
    probe = Classifier(tree, model=probe_model)
    texts = [_prepare(r.text) for r in held]
    share = fit_char_share(probe_model.predict_each(texts), held)
    probe_model.calibration = Calibration(char_share=share)
    parts = probe.parts([r.text for r in held])
    cal, held_acc = fit_calibration(parts, held, probe.allowed)
    cal = replace(cal, char_share=share)
    model_only = sum(max(c, key=lambda k: c[k]) in r.labels for (c, _), r in zip(parts, held, strict=True))
    full = _train_both(records)
    if out_dir.exists():
        shutil.rmtree(out_dir)
    full.nlp.to_disk(out_dir)
    assert full.char_nlp is not None
    full.char_nlp.to_disk(out_dir / CHAR_DIR)
    cal.save(out_dir / CALIBRATION_FILE)
    (out_dir / WORDS_FILE).write_text("\n".join(words) + "\n", "utf-8")
    forget(out_dir)
    return {"examples": len(records), "labels": len(full.labels),
            "held_out": len(held), "held_out_top1_ensemble": round(held_acc, 4),
            "held_out_top1_model_only": round(model_only / len(held), 4), **cal.__dict__}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=None, help="model directory (default: shipped)")
    args = parser.parse_args(argv)
    print(json.dumps(train(args.out), ensure_ascii=False, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
