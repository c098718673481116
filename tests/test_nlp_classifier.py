"""The shipped classifier (trained model + shipped keywords) on typical residents' messages, the CLI
and the evaluation contract. The messages are written for these tests, not taken from the data."""

from __future__ import annotations

import argparse
import json

import pytest

from nlp import evaluate, get_classifier
from nlp.commands import register
from nlp.evaluate import calibration
from nlp.model import shared_model
from nlp.types import Classification, Scored


@pytest.fixture(scope="module")
def clf():
    classifier = get_classifier()
    assert classifier.model is not None, "nlp/data/model missing: run python -m nlp.train"
    return classifier


@pytest.mark.parametrize(("text", "label"), [
    ("我家楼下那个井盖子没了，晚上差点崴脚", "component:0114"),
    ("马葫芦盖让人偷了，黑灯瞎火的吓死人", "component:0114"),
    ("路灯又不亮了，整条街黑乎乎的", "component:0118"),
    ("十字路口的红绿灯坏了，一直闪黄灯", "component:0210"),
    ("楼下垃圾扔得到处都是，也没人清，臭死了", "event:0102"),
    ("垃圾桶满了往外溢，一直没人倒", "component:0305"),
    ("路面坑坑洼洼的，骑电动车差点摔倒", "event:0110"),
    ("电线杆上贴满了小广告，办证的牛皮癣", "event:0201"),
    ("人行道上停满了汽车，行人只能走马路", "event:0505"),
    ("共享单车乱停一大片，把盲道都堵了", "event:0506"),
    ("工地半夜还在施工，吵得人睡不着", "event:0301"),
    ("下大雨路上积水很深，车都过不去", "event:0406"),
    ("street lights have been out for a week on our road", "component:0118"),
    ("manhole cover missing, somebody could fall in", "component:0114"),
    ("garbage piled up behind the market for days", "event:0102"),
])
def test_typical_messages(clf, text, label):
    result = clf.classify(text)
    assert label in [s.label for s in result.top[:3]]
    assert result.label == label


@pytest.mark.parametrize("text", ["小区门口天天有人摆摊卖菜，堵得过不去", "门口有流动摊贩卖水果"])
def test_street_vendors_are_street_order(clf, text):
    assert clf.classify(text).label in ("event:0501", "event:0504")


@pytest.mark.parametrize("text", [
    "我的养老金这个月怎么还没到账", "孩子上小学报名去哪里", "你好", "谢谢你们",
    "I want to ask about my pension", "这个月电费怎么这么高",
])
def test_out_of_scope_is_none(clf, text):
    result = clf.classify(text)
    assert result.label == "none"
    assert result.kind is None and result.name == ""


def test_out_of_scope_referral_in_evidence(clf):
    result = clf.classify("请问社保卡丢了怎么补办")
    assert result.label == "none"
    assert "12333" in result.evidence["out_of_scope"]["referral"]


@pytest.mark.parametrize(("text", "call"), [
    ("小区里有栋楼着火了，冒黑烟", "119"),
    ("闻到很大的煤气味，好像燃气泄漏了", "119"),
    ("广告牌掉下来有人被砸伤了", "120"),
])
def test_emergencies_are_urgent(clf, text, call):
    result = clf.classify(text)
    assert result.urgent
    assert result.evidence["urgent"]["call"] == call


def test_manhole_with_gas_leak_is_not_a_missing_cover(clf):
    result = clf.classify("井盖那里燃气泄漏了，味道很大")
    assert result.urgent
    assert result.label != "component:0114"


def test_traditional_characters(clf):
    simplified = clf.classify("路灯坏了好几天了，晚上很黑")
    traditional = clf.classify("路燈壞了好幾天了，晚上很黑")
    assert traditional.label == simplified.label == "component:0118"
    assert traditional.confidence == pytest.approx(simplified.confidence)


def test_result_shape_and_evidence(clf):
    result = clf.classify("淇滨大道188号门口路灯不亮，电话13812345678")
    assert result.label == "component:0118" and result.kind == "component"
    assert result.major == "01" and result.minor == "0118" and result.name == "路灯"
    assert 0.5 < result.confidence <= 1.0
    assert len(result.top) >= 3 and result.top[0].label == result.label
    assert sum(s.score for s in result.top) <= 1.0 + 1e-9
    assert "路灯不亮" in "".join(result.evidence["keywords"]["component:0118"])
    assert 0.0 < result.evidence["model"]["component:0118"] <= 1.0
    assert result.place_text == "淇滨大道188号门口"
    assert result.phones == ["13812345678"]


def test_transcript_uses_citizen_turns_only(clf):
    text = ("话务员：您好，这里是12345，请问您要反映什么问题？"
            "市民：九州路与华山路交叉口的红绿灯坏了。"
            "话务员：好的，请问是路灯还是井盖的问题？"
            "市民：是红绿灯，我电话0392-1234567")
    result = clf.classify(text)
    assert result.label == "component:0210"
    assert result.place_text == "九州路与华山路交叉口"
    assert result.phones == ["0392-1234567"]
    assert result.evidence["transcript"]


def test_batch_equals_single(clf):
    texts = ["井盖没了", "路灯不亮", "你好", "garbage everywhere"]
    assert [r.label for r in clf.classify_many(texts)] == [clf.classify(t).label for t in texts]


def test_evaluate_contract(clf):
    records = [
        {"text": "井盖没了", "label": "component:0114"},
        {"text": "路灯不亮", "label": ["component:0118", "component:0106"]},
        {"text": "你好", "label": "none"},
        {"text": "路灯不亮了", "label": "event:0102"},  # deliberately wrong gold label
    ]
    report = evaluate(clf, records, details=True)
    assert report["n"] == 4
    assert report["top1"] == 0.75
    assert report["major_top1"] == 0.75
    assert report["none_precision"] == 1.0 and report["none_recall"] == 1.0
    assert report["ms_per_text"] > 0
    assert {"gold": "event:0102", "predicted": "component:0118", "count": 1} in report["confusions"]
    assert report["worst_classes"][0]["label"] == "event:0102"
    assert report["by_lang"] == {"zh": {k: report[k] for k in (
        "n", "top1", "top3", "major_top1", "none_precision", "none_recall")}}
    assert sum(b["n"] for b in report["calibration"]["bins"]) == 4


def test_evaluate_reports_each_language_apart(clf):
    records = [
        {"text": "井盖没了", "label": "component:0114", "lang": "zh"},
        {"text": "路灯不亮了", "label": "event:0102", "lang": "zh"},  # deliberately wrong
        {"text": "street light out all week", "label": ["component:0118"], "lang": "en"},
        {"text": "what time is it", "label": ["none"]},  # no lang: the detected one
    ]
    report = evaluate(clf, records, details=True)
    assert report["by_lang"]["zh"]["n"] == 2 and report["by_lang"]["zh"]["top1"] == 0.5
    assert report["by_lang"]["en"]["n"] == 2 and report["by_lang"]["en"]["top1"] == 1.0
    assert report["by_lang"]["en"]["none_recall"] == 1.0


def _answer(label: str, confidence: float) -> Classification:
    return Classification(label=label, kind=None, major=None, minor=None, name="", name_en="",
                          confidence=confidence, urgent=False, top=[Scored(label, confidence)])


def test_calibration_bins_and_expected_error():
    pairs = [(("a",), _answer("a", 0.95)), (("a",), _answer("a", 0.95)),
             (("a", "b"), _answer("b", 0.15)), (("a",), _answer("c", 0.15))]
    result = calibration(pairs)
    assert result["bins"] == [{"from": 0.1, "to": 0.2, "n": 2, "top1": 0.5},
                              {"from": 0.9, "to": 1.0, "n": 2, "top1": 1.0}]
    assert result["ece"] == pytest.approx((0.35 * 2 + 0.05 * 2) / 4)
    assert calibration([(("a",), _answer("a", 1.0))])["bins"][0]["from"] == 0.9


def _run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    args = parser.parse_args(argv)
    return args.func(args)


def test_cli_classify(clf, capsys):
    assert _run(["classify", "马葫芦盖没了"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["label"] == "component:0114"
    for key in ("label", "kind", "major", "minor", "name", "confidence", "urgent", "top",
                "evidence", "place_text", "phones"):
        assert key in data
    assert len(data["top"]) >= 3 and set(data["top"][0]) == {"label", "score"}


def test_cli_eval_and_errors(clf, tmp_path, capsys):
    path = tmp_path / "dev.jsonl"
    path.write_text('{"text": "井盖没了", "label": "component:0114"}\n{"text": "你好", "label": "none"}\n',
                    "utf-8")
    assert _run(["eval", str(path), "--details"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["n"] == 2 and data["top1"] == 1.0 and "confusions" in data
    assert _run(["eval", str(tmp_path / "missing.jsonl")]) != 0
    assert capsys.readouterr().err.startswith("error:")
    assert _run(["classify", "  "]) != 0


def test_model_is_shared_between_classifiers(clf):
    assert clf.model is shared_model()
