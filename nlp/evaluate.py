"""Accuracy of a classifier on labelled messages (the contract of ``gridintake eval``)."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any, Protocol

from categories import NONE_LABEL, parse_label
from categories.crosswalk import map_label
from nlp.types import Classification, Scored


class _Classifies(Protocol):
    def classify_many(self, texts: list[str]) -> list[Classification]: ...


def _labels(record: Mapping[str, Any]) -> tuple[str, ...]:
    label = record["label"]
    return tuple(label) if isinstance(label, list) else (label,)


def _major(label: str) -> str | None:
    if label == NONE_LABEL:
        return NONE_LABEL
    kind, major, _ = parse_label(label)
    return f"{kind}:{major}"


CALIBRATION_BINS = 10


def in_edition(pairs: list[tuple[tuple[str, ...], Classification]],
               edition: str) -> tuple[list[tuple[tuple[str, ...], Classification]], int]:
    """The pairs with gold and predicted labels carried into ``edition`` by the crosswalk: a
    gold label counts as any of its classes there; a prediction (and each of its top 3) as its
    first class, or as itself (wrong) when it has none. Records whose gold has no class in the
    edition are left out; their number is returned too."""
    def first(label: str) -> str:
        return next(iter(map_label(label, edition)), label)

    mapped, dropped = [], 0
    for gold, res in pairs:
        gold_there = tuple(dict.fromkeys(t for g in gold for t in map_label(g, edition)))
        if not gold_there:
            dropped += 1
            continue
        top = [Scored(first(s.label), s.score) for s in res.top]
        mapped.append((gold_there, replace(res, label=first(res.label), top=top)))
    return mapped, dropped


def evaluate(classifier: _Classifies, records: Iterable[Mapping[str, Any]],
             details: bool = False, edition: str | None = None) -> dict[str, Any]:
    """``n``, ``top1``, ``top3``, ``major_top1``, ``none_precision``, ``none_recall``,
    ``ms_per_text``; with ``details`` also the commonest confusions, the worst classes, the same
    figures per language (``by_lang``: the record's ``lang``, else the detected one) and the
    calibration of the confidence (``ece`` and its bins). A list of gold labels counts any of them
    as right. With ``edition``, the figures are those of that catalogue edition, labels carried
    through the crosswalk (`in_edition`); ``unmapped_gold`` counts the records left out."""
    records = list(records)
    if not records:
        raise ValueError("no records to evaluate")
    texts = [str(r["text"]) for r in records]
    started = time.perf_counter()
    results = classifier.classify_many(texts)
    elapsed = time.perf_counter() - started
    pairs = [(_labels(rec), res) for rec, res in zip(records, results, strict=True)]
    extra: dict[str, Any] = {}
    if edition is not None:
        kept = [rec for rec, (gold, _) in zip(records, pairs, strict=True)
                if any(map_label(g, edition) for g in gold)]
        pairs, dropped = in_edition(pairs, edition)
        records, extra = kept, {"edition": edition, "unmapped_gold": dropped}
    report = {**_figures(pairs), **extra,
              "ms_per_text": round(elapsed * 1000 / len(texts), 3)}
    if details:
        report.update(_confusions(pairs))
        by_lang: dict[str, list[tuple[tuple[str, ...], Classification]]] = {}
        for rec, pair in zip(records, pairs, strict=True):
            by_lang.setdefault(str(rec.get("lang") or pair[1].language), []).append(pair)
        report["by_lang"] = {lang: _figures(p) for lang, p in sorted(by_lang.items())}
        report["calibration"] = calibration(pairs)
    return report


def _figures(pairs: list[tuple[tuple[str, ...], Classification]]) -> dict[str, Any]:
    top1 = top3 = major = 0
    pred_none = pred_none_right = gold_none = gold_none_found = 0
    for gold, res in pairs:
        top1 += res.label in gold
        top3 += any(s.label in gold for s in res.top[:3])
        major += _major(res.label) in {_major(g) for g in gold}
        is_none_gold = NONE_LABEL in gold
        if res.label == NONE_LABEL:
            pred_none += 1
            pred_none_right += is_none_gold
        if is_none_gold:
            gold_none += 1
            gold_none_found += res.label == NONE_LABEL
    n = len(pairs)
    return {
        "n": n,
        "top1": round(top1 / n, 4),
        "top3": round(top3 / n, 4),
        "major_top1": round(major / n, 4),
        "none_precision": round(pred_none_right / pred_none, 4) if pred_none else None,
        "none_recall": round(gold_none_found / gold_none, 4) if gold_none else None,
    }


def _confusions(pairs: list[tuple[tuple[str, ...], Classification]]) -> dict[str, Any]:
    confusions: Counter[tuple[str, str]] = Counter()
    per_class: dict[str, list[int]] = {}
    for gold, res in pairs:
        hit = res.label in gold
        stats = per_class.setdefault(gold[0], [0, 0])
        stats[0] += 1
        stats[1] += hit
        if not hit:
            confusions[(gold[0], res.label)] += 1
    worst = sorted(per_class.items(), key=lambda kv: (kv[1][1] / kv[1][0], -kv[1][0]))
    return {
        "confusions": [{"gold": g, "predicted": p, "count": c}
                       for (g, p), c in confusions.most_common(25)],
        "worst_classes": [{"label": lb, "n": s[0], "top1": round(s[1] / s[0], 4)}
                          for lb, s in worst[:15] if s[1] < s[0]],
    }


def calibration(pairs: list[tuple[tuple[str, ...], Classification]],
                bins: int = CALIBRATION_BINS) -> dict[str, Any]:
    """Expected calibration error over equal-width confidence bins (the top-1 accuracy of the
    answers in each bin against their mean confidence, weighted by the bin's share), and the
    non-empty bins."""
    counts = [[0, 0, 0.0] for _ in range(bins)]  # n, right, summed confidence
    for gold, res in pairs:
        b = counts[min(int(res.confidence * bins), bins - 1)]
        b[0] += 1
        b[1] += res.label in gold
        b[2] += res.confidence
    n = len(pairs)
    ece = sum(abs(right / k - conf / k) * k / n for k, right, conf in counts if k)
    return {"ece": round(ece, 4), "bins": [
        {"from": round(i / bins, 2), "to": round((i + 1) / bins, 2), "n": k,
         "top1": round(right / k, 4)}
        for i, (k, right, _) in enumerate(counts) if k]}
