"""Combine the text model and the keyword scorer into one calibrated distribution over labels.

A softmax over ``a·log p_model + b·log(1 + keyword weight)`` per class, with a bias and an
out-of-scope term for ``none`` and a penalty for classes whose negative keywords occur. The weights
and the temperature are fitted at training time on held-out training data (``nlp.train``), so the
top probability is a usable confidence.
"""

from __future__ import annotations

from collections.abc import Mapping
from collections.abc import Set as AbstractSet
from functools import lru_cache
from itertools import repeat

import numpy as np

from categories import NONE_LABEL
from nlp.keywords import KeywordResult
from nlp.model import Calibration

NEGATIVE_PENALTY = 3.0
MODEL_FLOOR = 1e-3  # model probability below which a class without keywords is not scored
_FLOOR = 1e-6


def combine(model_cats: Mapping[str, float] | None, kw: KeywordResult,
            allowed: AbstractSet[str], cal: Calibration) -> dict[str, float]:
    """Label → probability (sums to 1) over the model's labels, keyword hits and ``none``."""
    labels, model, keywords = _candidates(model_cats, kw, frozenset(allowed))
    z = cal.keyword_weight * np.log1p(keywords)
    if model_cats:
        z += cal.model_weight * np.log(np.maximum(model, _FLOOR))
    for label in kw.negated.keys() & set(labels[:-1]):
        z[labels.index(label)] -= NEGATIVE_PENALTY
    z[-1] += (cal.none_bias if model_cats else cal.keyword_only_none) + (
        cal.oos_weight if kw.out_of_scope else 0.0)
    exp = np.exp((z - z.max()) / cal.temperature)
    return dict(zip(labels, (exp / exp.sum()).tolist(), strict=True))


def _candidates(model_cats: Mapping[str, float] | None, kw: KeywordResult,
                allowed: frozenset[str]) -> tuple[list[str], np.ndarray, np.ndarray]:
    """The labels to score in label order ("none" last: ties rank alike), with their model
    probabilities and keyword weights: every allowed keyword hit, and every class the model does
    not all but rule out (a class below ``MODEL_FLOOR`` without keywords cannot make the top).
    The model's ~140 labels are filtered as an array, not label by label."""
    names, order, scorable, position = _label_space(tuple(model_cats or ()), allowed)
    probs = np.fromiter((model_cats or {}).values(), np.float64, len(names))[order]
    keep = (probs >= MODEL_FLOOR) & scorable
    extra = []
    for label in kw.scores.keys() & allowed:
        if label == NONE_LABEL:
            continue
        if label in position:
            keep[position[label]] = True
        else:
            extra.append(label)
    chosen = np.flatnonzero(keep)
    labels = [names[i] for i in chosen.tolist()]
    model = probs[chosen]
    if extra:  # keyword hits on classes the model was not trained on
        labels, model = _merge(labels, model, extra)
    labels.append(NONE_LABEL)
    model = np.concatenate((model, [probs[position[NONE_LABEL]] if NONE_LABEL in position else 0.0]))
    keywords = np.fromiter(map(kw.scores.get, labels, repeat(0.0)), np.float64, len(labels))
    return labels, model, keywords


def _merge(labels: list[str], model: np.ndarray, extra: list[str]) -> tuple[list[str], np.ndarray]:
    """Add classes without a model probability (0) to sorted ``labels``, keeping label order."""
    merged = sorted([*zip(labels, model.tolist(), strict=True), *((lb, 0.0) for lb in extra)])
    return [lb for lb, _ in merged], np.array([p for _, p in merged], np.float64)


@lru_cache(maxsize=16)
def _label_space(names: tuple[str, ...], allowed: frozenset[str]
                 ) -> tuple[list[str], np.ndarray, np.ndarray, dict[str, int]]:
    """The model's labels sorted, the permutation that sorts its rows, which of them may be
    ranked (allowed, not "none"), and each one's sorted position: once per model and tree."""
    order = sorted(range(len(names)), key=names.__getitem__)
    ranked = [names[i] for i in order]
    scorable = np.array([lb in allowed and lb != NONE_LABEL for lb in ranked], bool)
    return ranked, np.array(order, np.intp), scorable, {lb: i for i, lb in enumerate(ranked)}
