"""The confidence the classifier states: the ensemble's top probability mapped to the share of
answers that were right, fitted on the real dev split (``nlp/data/real/dev.jsonl``).

The ensemble's temperature is fitted on held-out training data, which is written in one voice;
on residents' real messages its top probability over-states (0.9 meant 86 % right). An isotonic
(monotone, stepwise) map from that probability to the observed top-1 accuracy fixes it without
changing the ranking. Each step is shrunk toward one half by one pseudo-answer each way, so a
small step of lucky answers does not claim 100 %. Stored with the model as data
(``confidence.json``: breakpoints interpolated linearly).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

CONFIDENCE_FILE = "confidence.json"


@dataclass(frozen=True)
class ConfidenceMap:
    """Raw ensemble probability → calibrated confidence; without breakpoints the identity."""

    xs: tuple[float, ...] = ()
    ys: tuple[float, ...] = ()
    fitted_on: int = 0  # answers it was fitted on

    def __call__(self, raw: float) -> float:
        return float(np.interp(raw, self.xs, self.ys)) if self.xs else raw

    @classmethod
    def fit(cls, raw: Sequence[float], right: Sequence[bool]) -> ConfidenceMap:
        """Isotonic regression of ``right`` on ``raw`` (scipy), steps shrunk by (k+1)/(n+2)."""
        from scipy.optimize import isotonic_regression

        if not raw:
            return cls()
        order = np.argsort(np.asarray(raw, np.float64), kind="stable")
        x = np.asarray(raw, np.float64)[order]
        y = np.asarray(right, np.float64)[order]
        fitted = isotonic_regression(y, increasing=True).x
        xs: list[float] = []
        ys: list[float] = []
        start = 0
        for end in range(1, len(x) + 1):
            if end == len(x) or fitted[end] != fitted[start]:
                n = end - start
                value = (float(y[start:end].sum()) + 1.0) / (n + 2.0)
                if ys and value < ys[-1]:  # the shrinking keeps the steps monotone
                    value = ys[-1]
                xs += [float(x[start]), float(x[end - 1])]
                ys += [value, value]
                start = end
        xs = [0.0, *xs, 1.0]
        ys = [min(ys[0], xs[1]), *ys, ys[-1]]
        return cls(tuple(round(v, 6) for v in xs), tuple(round(v, 6) for v in ys), len(x))

    @classmethod
    def load(cls, path: Path) -> ConfidenceMap:
        if not path.exists():
            return cls()
        data = json.loads(path.read_text("utf-8"))
        return cls(tuple(data["xs"]), tuple(data["ys"]), int(data.get("fitted_on", 0)))

    def save(self, path: Path) -> None:
        path.write_text(json.dumps({"xs": list(self.xs), "ys": list(self.ys),
                                    "fitted_on": self.fitted_on}) + "\n", "utf-8")
