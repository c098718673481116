"""One text at a time (the webhook's case) gives exactly what a batch gives: the model's 1-D path,
the textcat scored from one weight row per hash bucket, the char model's single row, and the whole
classification, on texts of every kind the classifier meets."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from categories import load_tree
from nlp import get_classifier
from nlp.normalize import normalize_text
from nlp.train import load_training, read_jsonl

VARIED = [
    "小区门口的路灯坏了好几天了",  # Chinese
    "马路上的井盖没了，晚上很危险",
    "這個路燈壞了，晚上什麼都看不見",  # traditional characters
    "ＡＢＣ小区１２号楼前垃圾桶满了！！！",  # full-width
    "street light broken near the school on Jiuzhou Rd",  # English
    "garbage piling up, bins overflowing for days",
    "路灯 坏了  !!",  # spaces between Han characters
    "井蓋丟失",  # a fuzzy keyword match only
    "我想问一下养老金什么时候发",  # out of scope
    "how do I pay my electricity bill",
    "楼道里着火了，好多浓烟",  # urgent
    "gas leak smell of gas in the building",
    "来电人：我家楼下的下水道堵了。话务员：您是说下水道吗？来电人：对，臭水漫出来了",  # transcript
    "你好",  # no problem named
    "xyz",
    "!!!",  # empty-ish
    "😀😀",
    "   ",
    "",
    "马路上的井盖没了" * 30,  # long: many terms in each sum
]


@pytest.fixture(scope="module")
def classifier():
    clf = get_classifier()
    assert clf.model is not None, "nlp/data/model missing: run python -m nlp.train"
    return clf


@pytest.fixture(scope="module")
def dev_texts() -> list[str]:
    return [r.text for r in read_jsonl(Path(__file__).parent.parent / "nlp" / "data" / "dev.jsonl")]


def test_one_text_is_classified_as_in_a_batch(classifier):
    batch = classifier.classify_many(VARIED)
    for text, expected in zip(VARIED, batch, strict=True):
        assert classifier.classify_many([text]) == [expected], text
        assert classifier.classify(text) == expected, text


def test_the_varied_texts_reach_every_branch(classifier):
    results = {text: classifier.classify(text) for text in VARIED}
    assert results["楼道里着火了，好多浓烟"].urgent
    assert results["我想问一下养老金什么时候发"].evidence.get("out_of_scope")
    assert results["井蓋丟失"].evidence["keywords"]
    assert results[VARIED[12]].evidence["transcript"] == "citizen turns only"
    model = classifier.model
    assert model.predict([""]) == model.predict(["   "]) == [{}]  # blank: no opinion
    assert model.chars is not None and 0.0 < model.calibration.char_share < 1.0  # words and chars mixed
    assert model.chars.probability(normalize_text("😀😀")) is None  # char model without an opinion


def test_every_dev_text_alone_is_classified_as_in_the_batch(classifier, dev_texts):
    batch = classifier.classify_many(dev_texts)
    assert [classifier.classify_many([t])[0] for t in dev_texts] == batch


def test_the_model_alone_predicts_one_text_as_in_a_batch(classifier, dev_texts):
    model = classifier.model
    texts = [normalize_text(t) for t in [*VARIED, *dev_texts[::5]]]
    for text in texts:
        alone = model.predict([text])[0]
        assert alone == model.predict([text, ""])[0], text  # two texts: the batch's 2-D path
        assert list(alone) == (list(model.labels) if text.strip() else [])


def test_one_bow_row_is_textcat_exactly(classifier):
    model = classifier.model
    textcat = model.nlp.get_pipe("textcat")
    texts = [t for t in (normalize_text(v) for v in VARIED) if t.strip()]
    texts += ["a  b", " 井盖 ", "路灯\t坏了", " ".join(r.text for r in load_training(load_tree())[:40])]
    for text in texts:
        expected = textcat.predict([model.nlp.make_doc(text)])[0]
        assert np.array_equal(model._words.predict_one(text), expected), text
        assert np.array_equal(model._words.predict([text, text])[1], expected), text


def test_the_words_skip_the_alignment_only_when_it_changes_nothing(classifier):
    bow = classifier.model._words
    for text in ["小区门口的路灯坏了", "路灯 坏了", " 井盖", "a\u3000b", "street-light"]:
        assert bow.words(text) == [t.text for t in classifier.model.nlp.make_doc(text)], text


def test_one_char_row_is_the_batch_row(classifier):
    chars = classifier.model.chars
    texts = [normalize_text(t) for t in VARIED]
    batch = chars.probabilities(texts)
    for text, row in zip(texts, batch, strict=True):
        alone = chars.probability(text)
        if alone is None:
            assert np.isnan(row).all(), text
        else:
            assert np.array_equal(alone, row), text
