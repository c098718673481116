"""The stated confidence: an isotonic map fitted on the real dev split, shrunk so a small lucky
step claims no certainty; the shipped model's answers at ≥ 0.9 are right at least 90 % of the
time on the real test split (never read by training or fitting)."""

from __future__ import annotations

import pytest

from nlp import get_classifier
from nlp.confidence import ConfidenceMap
from nlp.corpus import read_split


def test_the_map_is_monotone_and_shrunk():
    raw = [0.1, 0.2, 0.3, 0.5, 0.6, 0.9, 0.95, 0.99]
    right = [False, False, True, False, True, True, True, True]
    cmap = ConfidenceMap.fit(raw, right)
    values = [cmap(x / 100) for x in range(101)]
    assert values == sorted(values)
    assert cmap(0.99) == pytest.approx((4 + 1) / (4 + 2))  # four right in the top step
    assert cmap(0.1) < 0.5 and cmap.fitted_on == 8


def test_no_breakpoints_is_the_identity(tmp_path):
    assert ConfidenceMap()(0.42) == 0.42
    assert ConfidenceMap.load(tmp_path / "missing.json")(0.42) == 0.42
    cmap = ConfidenceMap.fit([0.2, 0.8], [False, True])
    cmap.save(tmp_path / "c.json")
    assert ConfidenceMap.load(tmp_path / "c.json") == cmap


def test_confident_answers_are_right_nine_times_in_ten_on_the_real_test_split():
    test = read_split("test")
    assert len(test) >= 300
    results = get_classifier().classify_many([r["text"] for r in test])
    sure = [(res, rec) for res, rec in zip(results, test, strict=True) if res.confidence >= 0.9]
    assert len(sure) >= 0.1 * len(test)
    assert sum(res.label in rec["label"] for res, rec in sure) / len(sure) >= 0.9
