"""The real-message corpus build: honest splits (no group in two), stable when a raw file arrives,
near-duplicates and invalid records kept out."""

from __future__ import annotations

import json
import shutil
from collections import defaultdict
from pathlib import Path

import pytest

from nlp.corpus import GROUPS_FILE, SPLITS, build, read_groups, read_split, real_dir

RAW = real_dir() / "raw"


def _splits_of(directory: Path) -> dict[str, str]:
    """record id → split."""
    return {r["id"]: name for name in SPLITS for r in read_split(name, directory=directory)}


def _groups_by_split(directory: Path) -> dict[str, set[str]]:
    seen: dict[str, set[str]] = defaultdict(set)
    for name in SPLITS:
        for rec in read_split(name, directory=directory):
            seen[rec["group"]].add(name)
    return seen


def test_the_committed_splits_put_each_group_in_one_split_as_groups_tsv_says():
    seen = _groups_by_split(real_dir())
    assert seen, "no built splits"
    placed = read_groups(real_dir() / GROUPS_FILE)
    for group, splits in seen.items():
        assert splits == {placed[group]}, group


def test_adding_a_raw_file_moves_no_message_and_keeps_groups_whole(tmp_path):
    raw = tmp_path / "raw"
    raw.mkdir()
    files = sorted(RAW.glob("en-*.jsonl"))
    assert len(files) >= 2
    for path in files[:-1]:
        shutil.copy(path, raw)
    first = build(raw, tmp_path)
    before = _splits_of(tmp_path)
    shutil.copy(files[-1], raw)
    second = build(raw, tmp_path)
    after = _splits_of(tmp_path)
    assert second.records > first.records and second.new_groups > 0
    assert {i: after[i] for i in before} == before
    assert all(len(s) == 1 for s in _groups_by_split(tmp_path).values())
    total = sum(second.splits[s]["en"] for s in SPLITS)
    for name, share in (("train", 0.6), ("dev", 0.2), ("test", 0.2)):
        assert second.splits[name]["en"] / total == pytest.approx(share, abs=0.05)


def test_a_rebuild_without_new_files_writes_the_same_splits(tmp_path):
    shutil.copytree(RAW, tmp_path / "raw")
    build(tmp_path / "raw", tmp_path)
    first = {s: (tmp_path / f"{s}.jsonl").read_bytes() for s in SPLITS}
    build(tmp_path / "raw", tmp_path)
    assert {s: (tmp_path / f"{s}.jsonl").read_bytes() for s in SPLITS} == first


def test_near_duplicates_and_invalid_records_are_left_out(tmp_path):
    raw = tmp_path / "raw"
    raw.mkdir()
    records = [json.loads(line) for line in
               sorted(RAW.glob("en-*.jsonl"))[0].read_text("utf-8").splitlines()[:30]]
    original = next(r for r in records if len(r["text"]) > 30)
    near = {**original, "id": "copy-1", "text": original["text"].upper() + "!", "group": "other#x"}
    bad_label = {**records[1], "id": "bad-1", "label": ["event:9999"]}
    no_source = {k: v for k, v in records[2].items() if k != "source"} | {"id": "bad-2"}
    lines = [*records, near, bad_label, no_source]
    (raw / "a.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines) + "{oops\n", "utf-8")
    report = build(raw, tmp_path)
    ids = set(_splits_of(tmp_path))
    assert original["id"] in ids and "copy-1" not in ids
    assert {"dropped": "copy-1", "kept": original["id"]} in report.near_duplicates
    assert "bad-1" not in ids and "bad-2" not in ids
    whys = " | ".join(r["why"] for r in report.rejected)
    assert "unknown label event:9999" in whys and "missing source" in whys and "bad JSON" in whys
    assert report.records == len(ids) == len(records)
