"""Training: deterministic output, a loadable model that classifies, calibration saved beside it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from categories import load_tree
from nlp import Classifier
from nlp.model import TextModel
from nlp.train import read_jsonl, split, train

FIX = Path(__file__).parent / "fixtures" / "nlp"


@pytest.fixture(scope="module")
def small_tree():
    return load_tree(keywords_path=FIX / "keywords_small.yaml")


def _files(path: Path) -> dict[str, bytes]:
    return {str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}


def test_training_is_deterministic_and_loadable(tmp_path, small_tree):
    files = [FIX / "train_small.jsonl"]
    first = train(tmp_path / "a", files, small_tree)
    second = train(tmp_path / "b", files, small_tree)
    assert first == second
    assert _files(tmp_path / "a") == _files(tmp_path / "b")
    # labels: the four in the examples plus the classes that only have keywords
    assert first["examples"] == 20 and first["labels"] == 7
    calibration = json.loads((tmp_path / "a" / "ensemble.json").read_text("utf-8"))
    assert calibration["temperature"] > 0

    model = TextModel.load(tmp_path / "a")
    assert set(model.labels) == {"component:0114", "component:0118", "event:0102", "none",
                                 "component:0111", "event:0403", "event:0501"}
    probs = model.predict(["晚上路灯不亮", ""])
    assert max(probs[0], key=probs[0].get) == "component:0118"
    assert sum(probs[0].values()) == pytest.approx(1.0, abs=1e-6)
    assert probs[1] == {}
    clf = Classifier(small_tree, model=model, out_of_scope=(), urgent=())
    assert clf.classify("路边的灯一到晚上就灭").label == "component:0118"


def test_split_holds_out_every_fifth_per_class():
    records = read_jsonl(FIX / "train_small.jsonl")
    kept, held = split(records)
    assert len(held) == 4 and len(kept) == 16
    assert sorted(r.labels[0] for r in held) == ["component:0114", "component:0118", "event:0102", "none"]


def test_bad_line_is_reported(tmp_path):
    path = tmp_path / "train_bad.jsonl"
    path.write_text('{"text": "井盖没了", "label": "component:0114"}\n{"text": "x"}\n', "utf-8")
    with pytest.raises(ValueError, match=r"train_bad\.jsonl:2"):
        read_jsonl(path)
