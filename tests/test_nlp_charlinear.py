"""The character n-gram logistic regression: features, training, and the saved file."""

from __future__ import annotations

import numpy as np
import pytest

from nlp.charlinear import CharLinearModel, char_ngrams

TEXTS = {
    "component:0101": ["井盖丢了", "楼下井盖没了", "路口井盖缺失", "马路上井盖坏了", "井盖碎了好危险"],
    "component:0118": ["路灯不亮", "路灯坏了", "门口路灯一直不亮", "这条街路灯全黑", "路灯闪个不停"],
    "event:0101": ["垃圾堆了一周", "小区垃圾没人清", "垃圾满地", "市场后面垃圾成堆", "垃圾发臭了"],
}


@pytest.fixture(scope="module")
def model() -> CharLinearModel:
    texts = [t for examples in TEXTS.values() for t in examples]
    targets = [label for label, examples in TEXTS.items() for _ in examples]
    return CharLinearModel.fit(texts, targets, min_df=1)


def test_ngrams_are_taken_within_words_padded_with_spaces():
    assert char_ngrams("井盖 ok") == [" ", "井", "盖", " ", " 井", "井盖", "盖 ", " 井盖", "井盖 ",
                                     " ", "o", "k", " ", " o", "ok", "k ", " ok", "ok "]


def test_features_are_l2_normalised_and_ignore_unknown_ngrams(model):
    cols, values = model.features("井盖丢了丢了")
    assert len(cols) == len(set(cols.tolist())) and np.linalg.norm(values) == pytest.approx(1.0)
    assert model.features("完全陌生的话")[0].size < model.features("井盖丢了")[0].size


@pytest.mark.parametrize(("text", "label"), [("井盖被偷了", "component:0101"),
                                             ("路等不亮了", "component:0118"),  # typo: 灯 → 等
                                             ("一堆垃圾", "event:0101")])
def test_unseen_texts_get_their_class(model, text, label):
    probs = model.predict([text])[0]
    assert max(probs, key=probs.__getitem__) == label
    assert sum(probs.values()) == pytest.approx(1.0, abs=1e-5)


def test_a_text_without_known_ngrams_has_no_opinion(model):
    assert model.predict(["", "   "]) == [{}, {}]


def test_saved_and_loaded_model_predicts_the_same(model, tmp_path):
    model.save(tmp_path / "chars.npz")
    loaded = CharLinearModel.load(tmp_path / "chars.npz")
    assert loaded.labels == model.labels
    before, after = model.predict(["井盖坏了"])[0], loaded.predict(["井盖坏了"])[0]
    assert after == pytest.approx(before, abs=1e-3)  # weights are stored as float16
