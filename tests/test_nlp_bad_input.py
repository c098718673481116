"""Bad input gets a clear answer (``none``, so the bot asks the resident to describe the problem),
never an exception; a 10,000-character paste is read like a long letter (its timing: bench/)."""

from __future__ import annotations

import pytest

from nlp import get_classifier

LONG_REPORT = ("路灯坏了好几天了，晚上很黑。" * 800)[:10000]


@pytest.mark.parametrize("text", [
    "", "   \n\t  ", "😡😡🔥👍🙏", "\x00\x01\x02\xff\ufffd%PDF-1.4 \x89PNG\r\n\x1a\n" * 5,
    "\u200b\u200d\ufeff", "?????!!!!!", "a" * 10000, "井" * 10000, ("x" * 300 + " ") * 40,
])
def test_junk_is_none_and_never_raises(text):
    result = get_classifier().classify(text)
    assert result.label == "none"
    assert len(result.top) >= 3 and 0.0 <= result.confidence <= 1.0


def test_a_long_paste_is_classified_from_its_first_part():
    result = get_classifier().classify(LONG_REPORT)
    assert result.label == "component:0118"
    assert result.evidence["sentences"][0] == "路灯坏了好几天了，晚上很黑。"


def test_a_batch_with_junk_gives_one_answer_each():
    texts = ["", "井盖没了", "😡", LONG_REPORT]
    results = get_classifier().classify_many(texts)
    assert [r.label for r in results][0::2] == ["none", "none"]
    assert [r.label for r in results][1::2] == ["component:0114", "component:0118"]
