"""Train the spaCy text classifier and fit the ensemble's calibration; ``python -m nlp.train``.

Deterministic: fixed seed, sorted inputs, fixed epochs. Steps:
1. hold out every 5th example per class, train both models (the spaCy textcat on jieba words, the
   character n-gram logistic regression) on the rest; on the held-out part fit the
   words/characters mixture (likelihood), then the ensemble weights (accuracy) and the temperature
   (likelihood) — the dev set is never read;
2. train again on everything and save both models and ``ensemble.json`` to ``nlp/data/model``;
3. fit the stated confidence on the real dev split (``confidence.json``, ``nlp.confidence``).

Training data: the synthetic ``train_*.jsonl`` and the real corpus's train split.
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
from thinc.api import SGD

from categories import NONE_LABEL, CategoryTree, load_tree
from nlp.charlinear import CharLinearModel
from nlp.classifier import Classifier
from nlp.confidence import CONFIDENCE_FILE, ConfidenceMap
from nlp.corpus import read_split
from nlp.ensemble import combine
from nlp.keywords import KeywordResult, KeywordScorer
from nlp.model import (
    CALIBRATION_FILE,
    CHARS_FILE,
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
EPOCHS = 20
# Plain SGD, not spaCy's default Adam: Adam's per-weight step sizes let the bag of words memorise
# rare n-grams (held-out top-1 0.27); SGD learns the shared words first (0.39).
LEARN_RATE = 2.0
HOLD_OUT_EVERY = 5
BOW_LENGTH = 2**15
NGRAM_SIZE = 2  # jieba words: unigrams and bigrams
CHAR_SHARES = (0.0, 0.2, 0.35, 0.5, 0.65, 0.8, 0.9, 1.0)
# A misfiled report still reaches the city and a dispatcher refiles it; a report answered "not
# ours" is lost. The calibration counts that mistake as three.
FALSE_NONE_COST = 3


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
    """The synthetic training files and the real corpus's train split (``gridintake corpus build``)."""
    data = Path(str(resources.files("nlp").joinpath("data")))
    real = data / "real" / "train.jsonl"
    return [*sorted(data.glob("train_*.jsonl")), *([real] if real.exists() else [])]


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


def _new_pipeline(labels: Iterable[str]) -> Language:
    nlp = spacy.blank("zh", config={"nlp": {"tokenizer": {"segmenter": "jieba"}}})
    textcat = nlp.add_pipe("textcat", config={"model": {
        "@architectures": "spacy.TextCatBOW.v3", "exclusive_classes": True,
        "ngram_size": NGRAM_SIZE, "no_output_layer": False, "length": BOW_LENGTH,
    }})
    for label in sorted(labels):
        textcat.add_label(label)
    return nlp


def train_pipeline(records: Sequence[Record], epochs: int = EPOCHS,
                   learn_rate: float = LEARN_RATE) -> Language:
    fix_random_seed(SEED)
    labels = sorted({r.labels[0] for r in records})
    nlp = _new_pipeline(labels)
    examples = []
    for rec in records:
        text = _prepare(rec.text)
        if not text.strip():
            continue
        doc = nlp.make_doc(text)
        examples.append(Example.from_dict(doc, {"cats": {lb: float(lb == rec.labels[0]) for lb in labels}}))
    nlp.initialize(lambda: examples)
    optimizer = SGD(learn_rate=learn_rate, L2=0.0)
    rng = random.Random(SEED)
    for _ in range(epochs):
        rng.shuffle(examples)
        for batch in minibatch(examples, size=16):
            nlp.update(batch, sgd=optimizer, drop=0.0)
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
    """(utility, mean negative log-likelihood of the best acceptable label); utility is accuracy
    with a real report answered ``none`` costing ``FALSE_NONE_COST`` errors."""
    utility, nll = 0.0, 0.0
    for (cats, kw), rec in zip(parts, records, strict=True):
        probs = combine(cats, kw, allowed, cal)
        best = max(probs, key=lambda k: probs[k])
        utility += best in rec.labels
        if best == NONE_LABEL and NONE_LABEL not in rec.labels:
            utility -= FALSE_NONE_COST - 1
        nll -= math.log(max(max(probs.get(lb, 0.0) for lb in rec.labels), 1e-9))
    return utility / len(records), nll / len(records)


def _mixed(raw: Sequence[tuple[dict[str, float], dict[str, float]]], keywords: Sequence[KeywordResult],
           share: float) -> list[tuple[dict[str, float], KeywordResult]]:
    return [(mix(words, chars, share), kw) for (words, chars), kw in zip(raw, keywords, strict=True)]


def fit_calibration(raw: Sequence[tuple[dict[str, float], dict[str, float]]],
                    keywords: Sequence[KeywordResult], records: Sequence[Record],
                    allowed: set[str]) -> tuple[Calibration, float]:
    """Grid search of the words/characters mixture and the ensemble weights for utility (then
    likelihood), then of the temperature for likelihood. ``raw``: (words, chars) per record."""
    best: tuple[float, float, Calibration] | None = None
    for share in CHAR_SHARES:
        parts = _mixed(raw, keywords, share)
        for a, b, bias, oos in itertools.product((0.5, 1.0, 1.5), (0.5, 1.0, 2.0, 3.0, 4.0),
                                                 (-3.0, -2.0, -1.0, 0.0, 1.0), (1.0, 3.0, 5.0)):
            cal = Calibration(char_share=share, model_weight=a, keyword_weight=b, none_bias=bias,
                              oos_weight=oos)
            utility, nll = _score(parts, records, allowed, cal)
            if best is None or (utility, -nll) > (best[0], -best[1]):
                best = (utility, nll, cal)
    assert best is not None
    utility, _, cal = best
    parts = _mixed(raw, keywords, cal.char_share)
    temps = [0.4 + 0.1 * i for i in range(27)]
    scored = [(_score(parts, records, allowed, replace(cal, temperature=t))[1], t) for t in temps]
    return replace(cal, temperature=round(min(scored)[1], 2)), utility


def train_chars(records: Sequence[Record]) -> CharLinearModel:
    texts = [_prepare(r.text) for r in records]
    return CharLinearModel.fit(texts, [r.labels[0] for r in records])


def _train_both(records: Sequence[Record]) -> TextModel:
    return TextModel(train_pipeline(records), Calibration(), train_chars(records))


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
    raw = probe_model.predict_each(texts)
    cal, held_utility = fit_calibration(raw, [probe.keywords.score(t) for t in texts], held, probe.allowed)
    mixed = [mix(words, chars, cal.char_share) for words, chars in raw]
    model_only = sum(bool(p) and max(p, key=p.__getitem__) in r.labels
                     for p, r in zip(mixed, held, strict=True))
    full = _train_both(records)
    if out_dir.exists():
        shutil.rmtree(out_dir)
    full.nlp.to_disk(out_dir)
    assert full.chars is not None
    full.chars.save(out_dir / CHARS_FILE)
    cal.save(out_dir / CALIBRATION_FILE)
    (out_dir / WORDS_FILE).write_text("\n".join(words) + "\n", "utf-8")
    forget(out_dir)
    fitted = fit_confidence(out_dir, tree)
    return {"examples": len(records), "labels": len(full.labels), **fitted,
            "held_out": len(held), "held_out_utility_ensemble": round(held_utility, 4),
            "held_out_top1_model_only": round(model_only / len(held), 4), **cal.__dict__}


def fit_confidence(model_dir: Path, tree: CategoryTree | None = None) -> dict[str, int]:
    """Fit the stated confidence on the real dev split (``nlp.confidence``) and save it beside
    the model; nothing when the corpus has not been built."""
    dev = read_split("dev")
    path = model_dir / CONFIDENCE_FILE
    path.unlink(missing_ok=True)
    forget(model_dir)
    if not dev:
        return {}
    classifier = Classifier(tree or load_tree(), model=TextModel.load(model_dir))
    results = classifier.classify_many([r["text"] for r in dev])
    ConfidenceMap.fit([r.confidence for r in results],
                      [r.label in d["label"] for r, d in zip(results, dev, strict=True)]).save(path)
    forget(model_dir)
    return {"confidence_fitted_on": len(dev)}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=None, help="model directory (default: shipped)")
    args = parser.parse_args(argv)
    print(json.dumps(train(args.out), ensure_ascii=False, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
