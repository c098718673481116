"""The classifier's shortcuts give what the long way gives: the textcat read without docs, the t2s
conversion skipped for text it cannot change, the fuzzy prefilter, the ensemble's array filter."""

from __future__ import annotations

import unicodedata
from collections import Counter

import numpy as np
import pytest

from categories import NONE_LABEL, load_tree
from nlp.bow import BowScorer
from nlp.ensemble import combine
from nlp.keywords import KeywordResult
from nlp.model import Calibration, shared_model
from nlp.normalize import _t2s, normalize_text, simplified
from nlp.phrases import PhraseIndex
from nlp.train import load_training, train_pipeline


@pytest.fixture(scope="module")
def model():
    loaded = shared_model()
    assert loaded is not None, "nlp/data/model missing: run python -m nlp.train"
    return loaded


@pytest.fixture(scope="module")
def texts():
    """Every 7th training text, normalised as the classifier reads it, plus awkward spacing."""
    sample = [normalize_text(r.text) for r in load_training(load_tree())[::7]]
    return [t for t in sample if t.strip()] + ["a  b", " 井盖 ", "ORTH LOWER", "路灯 坏了 !!"]


def test_the_word_model_without_docs_scores_exactly_as_textcat(model, texts):
    textcat = model.nlp.get_pipe("textcat")
    expected = textcat.predict([model.nlp.make_doc(t) for t in texts])
    assert np.array_equal(model._words.predict(texts), expected)
    one = model._words.predict(texts[:1])
    assert np.array_equal(one, textcat.predict([model.nlp.make_doc(texts[0])]))


def test_a_freshly_trained_pipeline_is_read_the_same_way(texts):
    nlp = train_pipeline(load_training(load_tree())[::40], epochs=1)
    expected = nlp.get_pipe("textcat").predict([nlp.make_doc(t) for t in texts[:60]])
    assert np.array_equal(BowScorer(nlp).predict(texts[:60]), expected)


def test_batch_and_single_predictions_agree(model, texts):
    batch = model.predict(texts[:40])
    assert [model.predict([t])[0] for t in texts[:40]] == batch


@pytest.mark.parametrize("text", [
    "這個路燈壞了", "马路上的井盖没了", "沈默的井蓋", "请有序排队", "ＡＢＣ１２３", "street light", "",
])
def test_simplified_equals_the_full_conversion(text):
    width_folded = unicodedata.normalize("NFKC", text)
    assert simplified(text) == _t2s().convert(width_folded)


def test_fuzzy_candidates_are_exactly_the_phrases_sharing_enough_characters(texts):
    phrases = ["井盖丢失", "路灯不亮了", "垃圾满溢", "窨井盖", "下水道堵塞", "ab", "street lamp"]
    index = PhraseIndex([(p, p) for p in phrases], fuzzy_min_len=3)
    for text in [*texts, "井盖丢了", "路灯不亮", "下水堵塞了"]:
        shared = Counter({p: len(set(p.replace(" ", "")) & set(text)) for p in phrases})
        expected = [p for p in index._fuzzy._phrases
                    if shared[p] >= 3 and shared[p] >= len(set(p.replace(" ", ""))) - 1]
        assert index._fuzzy.candidates(text) == expected


def test_fuzzy_hits_come_in_phrase_order():
    index = PhraseIndex([("下水道堵塞", "drain"), ("井盖丢失", "cover")], fuzzy_min_len=3)
    hits = index.find_fuzzy("井盖丢了下水道堵了", exclude=set())
    assert [h.phrase for h in hits] == ["下水道堵塞", "井盖丢失"]  # longer phrases first
    assert all(0.75 <= h.similarity < 1.0 for h in hits)


def test_combine_scores_a_keyword_class_the_model_never_saw():
    cats = {"component:0114": 0.7, "component:0118": 0.2995, "event:0102": 0.0005, NONE_LABEL: 0.0}
    kw = KeywordResult(scores={"component:9999": 1.0, "event:0102": 1.0},
                       matched={"component:9999": ["新词"], "event:0102": ["垃圾"]})
    allowed = frozenset({*cats, "component:9999"})
    probs = combine(cats, kw, allowed, Calibration())
    assert list(probs) == ["component:0114", "component:0118", "component:9999", "event:0102",
                           NONE_LABEL]
    assert sum(probs.values()) == pytest.approx(1.0)
    assert 0.0 < probs["component:9999"] < probs["event:0102"]  # same keywords, less model support


def test_an_opencc_without_its_tables_exposed_still_converts_every_text(monkeypatch):
    from nlp import normalize

    class TablesHidden:
        convert = staticmethod(_t2s().convert)

    monkeypatch.setattr(normalize, "_t2s", TablesHidden)
    normalize._t2s_triggers.cache_clear()
    try:
        assert normalize._t2s_triggers() is None
        assert simplified("這個路燈壞了") == "这个路灯坏了"
    finally:
        normalize._t2s_triggers.cache_clear()
