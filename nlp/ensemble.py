"""Combine the text model and the keyword scorer into one calibrated distribution over labels.

A softmax over ``a·log p_model + b·log(1 + keyword weight)`` per class, with a bias and an
out-of-scope term for ``none`` and a penalty for classes whose negative keywords occur. The weights
and the temperature are fitted at training time on held-out training data (``nlp.train``), so the
top probability is a usable confidence.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping

from categories import NONE_LABEL
from nlp.keywords import KeywordResult
from nlp.model import Calibration

NEGATIVE_PENALTY = 3.0
MODEL_FLOOR = 1e-4  # model probability below which a class without keywords is not scored
_FLOOR = 1e-6


def combine(model_cats: Mapping[str, float] | None, kw: KeywordResult,
            allowed: Collection[str], cal: Calibration) -> dict[str, float]:
    """Label → probability (sums to 1) over the model's labels, keyword hits and ``none``."""
    candidates = {c for c in kw.scores if c in allowed}
    if model_cats:  # a class the model all but rules out, with no keyword, cannot make the top
        candidates.update(c for c, p in model_cats.items() if p >= MODEL_FLOOR and c in allowed)
    candidates.add(NONE_LABEL)
    logits: dict[str, float] = {}
    for label in candidates:
        z = cal.keyword_weight * math.log1p(kw.scores.get(label, 0.0))
        if model_cats:
            z += cal.model_weight * math.log(max(model_cats.get(label, 0.0), _FLOOR))
        if label in kw.negated:
            z -= NEGATIVE_PENALTY
        logits[label] = z
    none_bias = cal.none_bias if model_cats else cal.keyword_only_none
    logits[NONE_LABEL] += none_bias + (cal.oos_weight if kw.out_of_scope else 0.0)
    top = max(logits.values())
    exp = {k: math.exp((v - top) / cal.temperature) for k, v in logits.items()}
    total = sum(exp.values())
    return {k: v / total for k, v in exp.items()}
