"""Combine the text model and the keyword scorer into one calibrated distribution over labels.

A softmax over ``a·log p_model + b·log(1 + keyword weight)`` per class, with a bias and an
out-of-scope term for ``none`` and a penalty for classes whose negative keywords occur. The weights
and the temperature are fitted at training time on held-out training data (``nlp.train``), so the
top probability is a usable confidence.
"""

from __future__ import annotations

from collections.abc import Mapping
from collections.abc import Set as AbstractSet
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
    candidates = kw.scores.keys() & allowed
    if model_cats:  # a class the model all but rules out, with no keyword, cannot make the top
        names = list(model_cats)
        probs = np.fromiter(model_cats.values(), np.float64, len(names))
        candidates |= {names[i] for i in np.flatnonzero(probs >= MODEL_FLOOR)} & allowed
    candidates.discard(NONE_LABEL)
    labels = [*sorted(candidates), NONE_LABEL]  # in label order ("none" sorts last): ties rank alike
    z = cal.keyword_weight * np.log1p(_values(kw.scores, labels))
    if model_cats:
        z += cal.model_weight * np.log(np.maximum(_values(model_cats, labels), _FLOOR))
    for label in kw.negated.keys() & candidates:
        z[labels.index(label)] -= NEGATIVE_PENALTY
    z[-1] += (cal.none_bias if model_cats else cal.keyword_only_none) + (
        cal.oos_weight if kw.out_of_scope else 0.0)
    exp = np.exp((z - z.max()) / cal.temperature)
    return dict(zip(labels, (exp / exp.sum()).tolist(), strict=True))


def _values(scores: Mapping[str, float], labels: list[str]) -> np.ndarray:
    return np.fromiter(map(scores.get, labels, repeat(0.0)), np.float64, len(labels))
