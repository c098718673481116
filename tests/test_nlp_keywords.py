"""Keyword scorer, rules and reload, on a small keyword set and without the trained model."""

from __future__ import annotations

from pathlib import Path

import pytest

from categories import load_tree
from nlp import Classifier, ClassifierHub
from nlp.phrases import PhraseIndex
from nlp.rules import load_rules

FIX = Path(__file__).parent / "fixtures" / "nlp"


@pytest.fixture(scope="module")
def tree():
    return load_tree(keywords_path=FIX / "keywords_small.yaml")


@pytest.fixture(scope="module")
def clf(tree):
    return Classifier(tree, model=None, out_of_scope=load_rules(FIX / "out_of_scope_small.yaml"),
                      urgent=load_rules(FIX / "urgent_small.yaml"))


@pytest.mark.parametrize(("text", "label"), [
    ("井盖坏了", "component:0114"),
    ("我们这的马葫芦没了", "component:0114"),
    ("燃气井盖松了", "component:0111"),  # the longer, typed keyword wins over 井盖
    ("路灯又不亮了", "component:0118"),
    ("垃圾没人清", "event:0102"),
    ("门口天天有人摆摊", "event:0501"),
    ("The street lights are broken", "component:0118"),
    ("GARBAGE piled up", "event:0102"),
    ("今天天气不错", "none"),
])
def test_keyword_classes(clf, text, label):
    result = clf.classify(text)
    assert result.label == label
    assert len(result.top) >= 3
    assert result.top[0].label == label
    assert [s.score for s in result.top] == sorted((s.score for s in result.top), reverse=True)


def test_evidence_names_the_keywords(clf):
    result = clf.classify("路灯不亮好几天了")
    assert result.evidence["keywords"]["component:0118"] == ["路灯不亮"]
    assert result.evidence["model"] is None
    assert result.name == "路灯" and result.kind == "component" and result.minor == "0118"


def test_fuzzy_match_catches_a_typo(clf):
    # "流动摊贩" typed as "流动摊販" after t2s is exact; a real typo: 流洞摊贩
    result = clf.classify("门口有流洞摊贩")
    assert result.label == "event:0501"
    assert any("~" in k for k in result.evidence["keywords"]["event:0501"])


def test_negative_keyword_removes_the_class(clf):
    result = clf.classify("井盖下面燃气泄漏了")
    assert result.label == "event:0403"
    assert result.evidence["negative"]["component:0114"] == ["燃气泄漏"]
    assert result.urgent  # event:0403 is urgent: true in the keyword data


def test_weights_rank_generic_words_lower(tree):
    clf = Classifier(tree, model=None, out_of_scope=(), urgent=())
    weak = clf.classify("盖子")
    strong = clf.classify("井盖")
    assert weak.label == strong.label == "component:0114"
    assert weak.confidence < strong.confidence


def test_out_of_scope_gives_none_with_referral(clf):
    result = clf.classify("我想问一下养老金什么时候发")
    assert result.label == "none"
    assert result.kind is None and result.name == ""
    assert result.evidence["out_of_scope"]["topic"] == "pension"
    assert "12333" in result.evidence["out_of_scope"]["referral"]


def test_urgent_cue_with_number_to_call(clf):
    result = clf.classify("小区门口着火了，有人受伤")
    assert result.urgent
    assert result.evidence["urgent"]["call"] == "119"
    calm = clf.classify("路灯不亮")
    assert not calm.urgent and "urgent" not in calm.evidence


def test_traditional_and_full_width_input(clf):
    result = clf.classify("路燈壞了！！！　ＳＯＳ")
    assert result.label == "component:0118"


def test_keyword_edit_reloads_without_restart(tree):
    state = {"version": 1, "tree": tree}
    loads = []

    def load():
        loads.append(state["version"])
        return state["version"], state["tree"]

    hub = ClassifierHub(load, lambda: state["version"], check_every_s=0.0, model=None)
    assert hub.current().classify("共享单车堆在路口").label == "none"
    assert hub.current() is hub.current()  # unchanged version → same classifier, no reload
    assert loads == [1]
    state["tree"] = tree.with_overrides({"event:0506": {"zh": ["共享单车"]}}, version=2)
    state["version"] = 2
    result = hub.current().classify("共享单车堆在路口")
    assert result.label == "event:0506"
    assert result.keyword_version == 2
    assert loads == [1, 2]


def test_hub_checks_version_at_most_every_interval(tree):
    calls = []

    def version():
        calls.append(1)
        return 1

    hub = ClassifierHub(lambda: (1, tree), version, check_every_s=3600, model=None)
    for _ in range(5):
        hub.current()
    assert len(calls) <= 1


def test_disabled_class_is_never_returned(tree):
    off = tree.with_overrides({"component:0118": {"enabled": False}}, version=3)
    result = Classifier(off, model=None, out_of_scope=(), urgent=()).classify("路灯不亮")
    assert result.label != "component:0118"
    assert all(s.label != "component:0118" for s in result.top)


def test_phrase_index_leftmost_longest_and_english_stems():
    index = PhraseIndex([("路灯", "a"), ("路灯井盖", "b"), ("street light", "c")])
    assert [h.phrase for h in index.find("路灯井盖坏了，旁边路灯也不亮")] == ["路灯井盖", "路灯"]
    hits = index.find("two street lights out")
    assert [(h.phrase, h.payloads) for h in hits] == [("street light", ("c",))]


def test_english_fuzzy_matches_compare_whole_words():
    index = PhraseIndex([("signpost", "a"), ("garbage", "b"), ("路灯不亮", "c")])
    fuzzy = lambda text: [(h.phrase, text[h.start:h.end]) for h in index.find_fuzzy(text, set())]  # noqa: E731
    assert fuzzy("garbge everywhere") == [("garbage", "garbge")]  # a typo still counts
    assert fuzzy("the signposts fell") == [("signpost", "signposts")]
    assert fuzzy("the signal is out") == []  # "sign…" inside a longer word does not
    assert fuzzy("garbagetruckdriver parked here") == []
    assert [p for p, _ in fuzzy("楼下路灯不凉了")] == ["路灯不亮"]  # Chinese: inside the text
