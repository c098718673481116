"""The complaint inside a letter: the classifier reads a letter without its greetings, formulas
and thanks, shows the sentences stating the problem, and takes the place from them. The letters are
written for these tests."""

from __future__ import annotations

import pytest

from nlp import get_classifier
from nlp.letter import SHORT, read, sentences, strip_greeting

LETTER_ZH = ("尊敬的市长您好！我是淇滨区华夏小区的居民，在这里住了十年了。"
             "最近九州路与华山路交叉口的路灯坏了一个多星期，晚上一片漆黑，行人经过很危险。"
             "恳请有关部门尽快派人维修。谢谢！")
LETTER_EN = ("Hi, I live on Mill Road and walk my kids to school every day. There is a huge pothole "
             "outside number 12 on Tenison Road that has been there for weeks. Please fix it, thanks!")


def _no_keywords(_: str) -> float:
    return 0.0


def test_sentences_and_greetings():
    assert sentences("路灯坏了。晚上很黑！\n谢谢") == ["路灯坏了。", "晚上很黑！", "谢谢"]
    assert strip_greeting("尊敬的领导您好！路灯坏了") == "路灯坏了"
    assert strip_greeting("Hi, the bin is broken") == "the bin is broken"
    assert strip_greeting("路灯坏了") == "路灯坏了"


def test_a_short_message_is_read_whole():
    text = "您好，路灯坏了。谢谢！"
    assert len(text) <= SHORT
    assert read(text, _no_keywords).text == text and read(text, _no_keywords).evidence == ()


def test_greetings_background_formulas_and_thanks_are_not_read():
    letter = read(LETTER_ZH, _no_keywords)
    assert "路灯坏了一个多星期" in letter.text
    for formula in ("您好", "谢谢", "恳请", "我是淇滨区"):
        assert formula not in letter.text
    assert letter.evidence == (
        "最近九州路与华山路交叉口的路灯坏了一个多星期，晚上一片漆黑，行人经过很危险。",)


@pytest.mark.parametrize(("text", "label", "place", "sentence"), [
    (LETTER_ZH, "component:0118", "九州路与华山路交叉口", "路灯坏了一个多星期"),
    (LETTER_EN, "event:0110", "Tenison Road", "huge pothole"),
])
def test_classify_shows_the_problem_sentences_and_takes_their_place(text, label, place, sentence):
    result = get_classifier().classify(text)
    assert result.label == label
    assert result.place_text == place  # not the writer's own compound or street
    shown = result.evidence["sentences"]
    assert any(sentence in s for s in shown)
    assert not any("谢谢" in s or "thanks" in s.lower() or "I live" in s for s in shown)
