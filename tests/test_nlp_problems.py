"""Several problems in one message: one entry per distinct class or place, in order; the CLI
prints them as JSON. The messages are written for these tests."""

from __future__ import annotations

import argparse
import json

import pytest

from nlp import get_classifier
from nlp.commands import register
from nlp.problems import Problem, find_problems, statements

LETTER = ("尊敬的领导：您好！我是华夏小区居民。小区门口的垃圾堆了一个星期没人清理，臭气熏天。"
          "另外，门口那条路上有好几个坑，电动车经过差点摔倒。还有晚上烧烤摊占道经营，油烟很大。"
          "恳请有关部门处理，谢谢！")


@pytest.fixture(scope="module")
def clf():
    return get_classifier()


def test_statements_split_sentences_and_connectives_and_drop_formulas():
    parts = statements("路灯坏了，另外井盖也丢了。谢谢！")
    assert parts == ["路灯坏了", "另外井盖也丢了。"]


def test_a_letter_with_three_problems_gives_three_in_order(clf):
    found = find_problems(clf, LETTER)
    assert [p.label[:6] for p in found] == ["event:"] * 3
    assert found[0].label in ("event:0102", "event:0103")
    assert [p.label for p in found[1:]] == ["event:0110", "event:0510"]
    assert "垃圾" in found[0].text and "坑" in found[1].text and "烧烤" in found[2].text
    assert all(0.0 < p.confidence <= 1.0 for p in found)


def test_the_same_class_in_two_places_is_two_problems(clf):
    found = find_problems(clf, "Street light out on Mill Road. Also the street light on Hills Road "
                               "is out too.")
    assert [(p.label, p.place_text) for p in found] == [("component:0118", "Mill Road"),
                                                        ("component:0118", "Hills Road")]


def test_one_problem_told_at_length_is_one(clf):
    text = ("Huge pothole on Tenison Road, it has been there for weeks and it is getting deeper "
            "every day. A cyclist nearly came off yesterday. Please fix it.")
    found = find_problems(clf, text)
    assert [(p.label, p.place_text) for p in found] == [("event:0110", "Tenison Road")]


@pytest.mark.parametrize("text", ["", "你好", "😡😡", "我想咨询一下养老金怎么领取"])
def test_no_city_problem_gives_none(clf, text):
    assert find_problems(clf, text) == []


def _run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    args = parser.parse_args(argv)
    return args.func(args)


def test_cli_problems_text_and_jsonl(clf, tmp_path, capsys):
    assert _run(["problems", "九州路的路灯坏了，另外华山路的井盖也丢了"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [p["label"] for p in data["problems"]] == ["component:0118", "component:0114"]
    assert set(data["problems"][0]) == set(Problem.__dataclass_fields__)
    path = tmp_path / "in.jsonl"
    path.write_text('{"text": "路灯坏了"}\n\n{"text": "你好"}\n', "utf-8")
    assert _run(["problems", "--jsonl", str(path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [json.loads(line)["problems"] and json.loads(line)["problems"][0]["label"]
            for line in lines] == ["component:0118", []]
    assert _run(["problems", "--jsonl", str(tmp_path / "missing.jsonl")]) != 0
