"""Accuracy of a classifier on labelled messages (the contract of ``gridintake eval``)."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any, Protocol

from categories import NONE_LABEL, parse_label
from nlp.types import Classification


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


def evaluate(classifier: _Classifies, records: Iterable[Mapping[str, Any]],
             details: bool = False) -> dict[str, Any]:
    """``n``, ``top1``, ``top3``, ``major_top1``, ``none_precision``, ``none_recall``,
    ``ms_per_text``; with ``details`` also the commonest confusions and the worst classes."""
    records = list(records)
    if not records:
        raise ValueError("no records to evaluate")
    texts = [str(r["text"]) for r in records]
    started = time.perf_counter()
    results = classifier.classify_many(texts)
    elapsed = time.perf_counter() - started
    top1 = top3 = major = 0
    pred_none = pred_none_right = gold_none = gold_none_found = 0
    confusions: Counter[tuple[str, str]] = Counter()
    per_class: dict[str, list[int]] = {}
    for rec, res in zip(records, results, strict=True):
        gold = _labels(rec)
        hit = res.label in gold
        top1 += hit
        top3 += any(s.label in gold for s in res.top[:3])
        major += _major(res.label) in {_major(g) for g in gold}
        is_none_gold = NONE_LABEL in gold
        if res.label == NONE_LABEL:
            pred_none += 1
            pred_none_right += is_none_gold
        if is_none_gold:
            gold_none += 1
            gold_none_found += res.label == NONE_LABEL
        stats = per_class.setdefault(gold[0], [0, 0])
        stats[0] += 1
        stats[1] += hit
        if not hit:
            confusions[(gold[0], res.label)] += 1
    n = len(records)
    report: dict[str, Any] = {
        "n": n,
        "top1": round(top1 / n, 4),
        "top3": round(top3 / n, 4),
        "major_top1": round(major / n, 4),
        "none_precision": round(pred_none_right / pred_none, 4) if pred_none else None,
        "none_recall": round(gold_none_found / gold_none, 4) if gold_none else None,
        "ms_per_text": round(elapsed * 1000 / n, 3),
    }
    if details:
        report["confusions"] = [{"gold": g, "predicted": p, "count": c}
                                for (g, p), c in confusions.most_common(25)]
        worst = sorted(per_class.items(), key=lambda kv: (kv[1][1] / kv[1][0], -kv[1][0]))
        report["worst_classes"] = [{"label": lb, "n": s[0], "top1": round(s[1] / s[0], 4)}
                                   for lb, s in worst[:15] if s[1] < s[0]]
    return report
