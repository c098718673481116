"""Measure classifiers on labelled sets for the admin pages: figures, per-class P/R, confusions.

The contract figures come from ``nlp.evaluate`` (replayed on the same predictions so each set is
classified once per classifier); per-class precision/recall and the confusion matrix use one
reference label per message: the prediction when it is acceptable, else the first label.
"""

from __future__ import annotations

import csv
import io
import json
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from categories import CategoryTree
from nlp import Classifier, evaluate
from nlp.types import Classification

LABEL_SPLIT = ("|", ";")


class DataError(ValueError):
    """An uploaded set cannot be read; the message names the line."""


def dev_set_path() -> Path:
    return Path(str(resources.files("nlp").joinpath("data", "dev.jsonl")))


def _labels(value: Any, where: str) -> list[str]:
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return [v.strip() for v in value]
    if isinstance(value, str) and value.strip():
        text = value
        for sep in LABEL_SPLIT:
            text = text.replace(sep, "\n")
        return [v.strip() for v in text.splitlines() if v.strip()]
    raise DataError(f"{where}: label must be a label or a list of labels")


def read_records(name: str, content: str) -> list[dict[str, Any]]:
    """JSONL lines ``{"text", "label"}`` or a CSV with columns ``text,label``
    (several acceptable labels separated by ``|``)."""
    records = []
    if name.lower().endswith(".csv"):
        reader = csv.DictReader(io.StringIO(content.lstrip("\ufeff")))
        if not reader.fieldnames or not {"text", "label"} <= set(reader.fieldnames):
            raise DataError(f"{name}: the CSV needs the columns text and label")
        for lineno, row in enumerate(reader, start=2):
            if (row.get("text") or "").strip():
                records.append({"text": row["text"], "label": _labels(row.get("label"), f"{name}:{lineno}")})
    elif name.lower().endswith((".jsonl", ".json")):
        for lineno, line in enumerate(content.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                data = json.loads(line)
            except ValueError:
                raise DataError(f"{name}:{lineno}: not a JSON object") from None
            if not isinstance(data, dict) or not str(data.get("text") or "").strip():
                raise DataError(f"{name}:{lineno}: needs a non-empty text")
            labels = _labels(data.get("label"), f"{name}:{lineno}")
            records.append({"text": str(data["text"]), "label": labels})
    else:
        raise DataError(f"{name}: expected a .jsonl or .csv file")
    if not records:
        raise DataError(f"{name}: no labelled messages")
    return records


def check_labels(records: Sequence[dict[str, Any]], tree: CategoryTree) -> None:
    for i, rec in enumerate(records, start=1):
        for label in rec["label"]:
            if label != "none" and label not in tree:
                raise DataError(f"message {i}: unknown label {label}")


class _Replay:
    """Hands ``nlp.evaluate`` predictions already made."""

    def __init__(self, results: list[Classification]) -> None:
        self.results = results

    def classify_many(self, texts: list[str]) -> list[Classification]:
        return self.results


@dataclass
class Measurement:
    figures: dict[str, Any]
    predictions: list[str]
    references: list[str]
    per_class: dict[str, dict[str, float]] = field(default_factory=dict)
    confusion: Counter = field(default_factory=Counter)  # (reference, predicted) → count


def measure(classifier: Classifier, records: Sequence[dict[str, Any]]) -> Measurement:
    started = time.perf_counter()
    results = classifier.classify_many([r["text"] for r in records])
    elapsed = time.perf_counter() - started
    figures = evaluate(_Replay(results), records)
    figures["ms_per_text"] = round(elapsed * 1000 / len(records), 3)
    preds = [r.label for r in results]
    refs = [p if p in rec["label"] else rec["label"][0] for p, rec in zip(preds, records, strict=True)]
    confusion = Counter(zip(refs, preds, strict=True))
    per_class = {}
    for label in sorted(set(refs) | set(preds)):
        tp = confusion[(label, label)]
        predicted = sum(c for (_, p), c in confusion.items() if p == label)
        support = sum(c for (r, _), c in confusion.items() if r == label)
        precision = tp / predicted if predicted else None
        recall = tp / support if support else None
        per_class[label] = {"support": support, "predicted": predicted,
                            "precision": precision, "recall": recall}
    return Measurement(figures, preds, refs, per_class, confusion)


def worst_labels(m: Measurement, limit: int = 30) -> list[str]:
    """Classes taking part in the most confusions (rows and columns of the heatmap)."""
    errors: Counter[str] = Counter()
    for (ref, pred), count in m.confusion.items():
        if ref != pred:
            errors[ref] += count
            errors[pred] += count
    return sorted(label for label, _ in errors.most_common(limit))


def changed_messages(records: Sequence[dict[str, Any]], new: Measurement, old: Measurement
                     ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Messages the change fixed and the ones it broke."""
    fixed, broken = [], []
    for i, rec in enumerate(records):
        was, now = old.predictions[i] in rec["label"], new.predictions[i] in rec["label"]
        if was != now:
            row = {"text": rec["text"], "gold": rec["label"], "old": old.predictions[i],
                   "new": new.predictions[i]}
            (fixed if now else broken).append(row)
    return fixed, broken
