"""The category tree by edition (CJ/T 214, GB/T 47678.5-2026), the crosswalk between them, the
`[categories] edition` switch and the classifier's figures carried through the crosswalk."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.oneshot import file_report
from cases.serialize import case_to_json
from categories import load_tree, parse_label
from categories.crosswalk import RELATIONS, crosswalk, map_label, unmapped
from categories.tree import EDITIONS, edition_of
from nlp.evaluate import _figures, in_edition
from nlp.types import Classification, Scored
from storage.db import transaction
from storage.models import Case
from tests.conftest import make_runtime

NEW = "gbt47678-2026"
CROSSWALK = Path(__file__).resolve().parents[1] / "categories" / "data" / "crosswalk.csv"


@pytest.fixture(scope="module")
def trees():
    return {edition: load_tree(edition=edition) for edition in EDITIONS}


def test_each_edition_loads_with_its_codes(trees):
    old, new = trees["cjt214"], trees[NEW]
    assert len(old) == 139 and len(new) == 403
    assert sum(c.kind == "component" for c in new) == 153  # the catalogue's 153 components
    assert sum(c.kind == "event" for c in new) == 250  # and its 250 matters
    assert all(len(c.minor) == 4 for c in old) and all(len(c.minor) == 5 for c in new)
    assert parse_label("component:01001") == ("component", "01", "01001")
    assert edition_of("event:06010") == NEW and edition_of("event:0102") == "cjt214"
    assert new.get("component:01001").name_zh == "供水井盖"
    assert new.get("event:06001").time_limit_hours == old.get("event:0101").time_limit_hours


def test_the_crosswalk_covers_both_editions_with_a_basis_for_each_row(trees):
    rows = crosswalk()
    assert all(r.relation in RELATIONS and r.basis.strip() for r in rows)
    assert {r.from_label for r in rows if r.from_label} == set(trees["cjt214"].categories)
    assert {r.to_label for r in rows if r.to_label} == set(trees[NEW].categories)
    for r in rows:
        assert (r.relation == "none") == (not r.from_label or not r.to_label), r
    with CROSSWALK.open(encoding="utf-8") as fh:
        named = {(row["to_label"], row["to_name"]) for row in csv.DictReader(fh) if row["to_label"]}
    assert all(trees[NEW].get(label).name_zh == name for label, name in named)
    assert "event:0199" in unmapped("cjt214") and "component:0502" in unmapped("cjt214")
    assert "event:09011" in unmapped(NEW)  # 共享单车乱象: new in 2026


def test_labels_map_both_ways():
    assert map_label("component:0101", NEW) == ["component:01001", "event:01001"]
    assert map_label("component:01001", "cjt214") == ["component:0101"]
    assert map_label("event:06010", "cjt214") == ["event:0102"]
    assert map_label("event:0202", NEW) == ["event:07003", "event:07006"]
    assert map_label("event:0199", NEW) == []
    assert map_label("none", NEW) == ["none"]


def _gi(env, *args):
    return subprocess.run([Path(sys.executable).with_name("gridintake"), *args], env=env,
                          capture_output=True, text=True, timeout=120)


def test_cli_lists_editions_and_maps_labels(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRIDINTAKE_")}
    env |= {"GRIDINTAKE_DATA_DIR": str(tmp_path), "GRIDINTAKE_CATEGORIES_EDITION": NEW}
    listed = json.loads(_gi(env, "categories", "editions").stdout)
    assert [(e["edition"], e["classes"], e["active"]) for e in listed] == [
        ("cjt214", 139, False), (NEW, 403, True)]
    mapped = json.loads(_gi(env, "categories", "map", "event:0505", "--to", NEW).stdout)
    assert [m["label"] for m in mapped["mapped"]] == ["event:09009"]
    assert mapped["mapped"][0]["name"] == "机动车乱停放" and mapped["mapped"][0]["basis"]
    wrong = _gi(env, "categories", "map", "event:0505", "--to", "gbt2099")
    assert wrong.returncode != 0 and "unknown edition" in wrong.stderr


def test_switching_edition_files_in_the_new_codes_and_old_cases_show_the_mapping(
        tmp_path, database_url):
    old = make_runtime(tmp_path / "var", database_url)
    before = file_report(old, text="九州路口的自来水井盖坏了", lat=35.747, lon=114.297)
    assert before["label"].startswith("component:01") and len(before["minor"]) == 4
    old.db.dispose()
    runtime = make_runtime(tmp_path / "var", database_url, GRIDINTAKE_CATEGORIES_EDITION=NEW)
    after = file_report(runtime, text="九州路口的自来水井盖坏了", lat=35.747, lon=114.297)
    new_label = map_label(before["label"], NEW)[0]
    assert after["label"] == new_label and after["minor"] == new_label[-5:]
    assert after["category_name"] == load_tree(edition=NEW).get(new_label).name_zh
    unmapped_case = file_report(runtime, text="九州路口路面积水很深，车都过不去", lat=35.747, lon=114.297)
    with transaction(runtime.sessions) as session:
        stored = session.scalar(select(Case).where(Case.number == after["number"]))
        assert stored.evidence["classification"]["evidence"]["crosswalk"]["from"] == before["label"]
        first = session.scalar(select(Case).where(Case.number == before["number"]))
        shown = case_to_json(first, edition=NEW)
        assert shown["label"] == before["label"]  # an existing case keeps its label
        assert shown["mapped_labels"][0] == new_label
        odd = session.scalar(select(Case).where(Case.number == unmapped_case["number"]))
        if edition_of(odd.label) == "cjt214":  # a class without a 2026 counterpart
            assert odd.needs_review
    runtime.db.dispose()


def test_classifier_figures_through_the_crosswalk():
    def result(label, *top):
        return Classification(label=label, kind=None, major=None, minor=None, name="", name_en="",
                              confidence=0.9, urgent=False,
                              top=[Scored(x, 0.1) for x in (label, *top)])

    pairs = [(("component:0101",), result("component:0101", "event:0102")),
             (("event:0102",), result("event:0101", "event:0102")),
             (("event:0199",), result("event:0199")),  # no class in 2026: left out
             (("event:0202",), result("event:0203"))]  # 违规户外广告 either way in 2026
    old = _figures(pairs)
    new_pairs, dropped = in_edition(pairs, NEW)
    new = _figures(new_pairs)
    assert dropped == 1 and new["n"] == 3
    assert (old["top1"], new["top1"]) == (0.5, round(2 / 3, 4))
    assert new_pairs[0][1].label == "component:01001" and new_pairs[0][0][0] == "component:01001"
