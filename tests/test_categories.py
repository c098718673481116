"""The shipped category data and its loader: national classes, city keywords, referral and emergency data."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest
import yaml

from categories import CategoryError, load_tree, parse_label
from categories.tree import LABEL_RE

ROOT = Path(__file__).resolve().parents[1] / "categories" / "data"
DATA = ROOT / "cjt214"  # the edition that ships as the default

# The classes residents report most (components and events named in the data brief).
FREQUENT = [
    *(f"component:{c}" for c in (
        "0101", "0102", "0103", "0104", "0105", "0107", "0111", "0113", "0114", "0116", "0117",
        "0118", "0126", "0134", "0136", "0203", "0209", "0210", "0211", "0301", "0305", "0307",
        "0402", "0405", "0407", "0501")),
    *(f"event:01{n:02d}" for n in range(1, 19)),
    *(f"event:02{n:02d}" for n in range(1, 6)),
    *(f"event:03{n:02d}" for n in range(1, 6)),
    *(f"event:04{n:02d}" for n in range(1, 9)),
    *(f"event:05{n:02d}" for n in range(1, 14)),
]

HEADER = ("kind,major_code,major_name_zh,minor_code,minor_name_zh,name_en,"
          "typical_department_zh,time_limit_hours,source")
GOOD_ROWS = [
    "component,01,公用设施,0114,无主井盖,Unowned manhole cover,,,test",
    "event,01,市容环境,0102,暴露垃圾,Exposed garbage,区市容环境卫生管理处,4,test",
]


@pytest.fixture(scope="module")
def tree():
    return load_tree()


def _yaml(name: str):
    """An edition's file (keywords.yaml), else one shared by every edition (the cues)."""
    path = DATA / name if (DATA / name).exists() else ROOT / name
    return yaml.safe_load(path.read_text("utf-8"))


def _write(tmp_path: Path, rows: list[str], keywords: str = "{}\n") -> tuple[Path, Path]:
    csv_path, kw_path = tmp_path / "classes.csv", tmp_path / "keywords.yaml"
    csv_path.write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
    kw_path.write_text(keywords, encoding="utf-8")
    return csv_path, kw_path


# -- shipped tree -------------------------------------------------------------------------------

def test_shipped_tree_has_every_csv_class_with_both_names(tree):
    with (DATA / "categories.csv").open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(tree) == len(rows) == 139
    for row in rows:
        cat = tree.get(f"{row['kind']}:{row['minor_code']}")
        assert cat is not None
        assert cat.name_zh == row["minor_name_zh"] and re.search(r"[\u4e00-\u9fff]", cat.name_zh)
        assert cat.name_en == row["name_en"] and re.search(r"[A-Za-z]", cat.name_en)
        assert parse_label(cat.label) == (cat.kind, cat.major, cat.minor)


def test_keywords_file_names_only_real_classes(tree):
    labels = set(_yaml("keywords.yaml"))
    assert all(LABEL_RE.match(label) for label in labels)
    assert labels <= set(tree.categories)
    assert labels == set(tree.categories)  # every class has city data


def test_every_class_has_department_time_limit_and_keywords(tree):
    for cat in tree:
        assert cat.department.strip(), cat.label
        assert cat.time_limit_hours is not None and 0 < cat.time_limit_hours <= 168, cat.label
        assert len(cat.keywords_zh) >= 3 and len(cat.keywords_en) >= 2, cat.label


@pytest.mark.parametrize("label", FREQUENT)
def test_most_reported_classes_have_many_keywords(tree, label):
    cat = tree.get(label)
    assert len(cat.keywords()) >= 6
    assert len(cat.keywords_zh) >= 8 and len(cat.keywords_en) >= 5


def test_keywords_are_short_phrases_with_sane_weights(tree):
    for cat in tree:
        for kw in cat.keywords_zh:
            assert 2 <= len(kw.text) <= 8 and " " not in kw.text, (cat.label, kw.text)
        for kw in cat.keywords_en:
            assert kw.text == kw.text.lower() and len(kw.text.split()) <= 8, (cat.label, kw.text)
        for kw in cat.keywords():
            assert 0 < kw.weight <= 1, (cat.label, kw.text)


def test_shared_keywords_are_down_weighted_everywhere(tree):
    owners: dict[str, list[tuple[str, float]]] = {}
    for cat in tree:
        for kw in cat.keywords():
            owners.setdefault(kw.text.lower(), []).append((cat.label, kw.weight))
    for text, where in owners.items():
        if len({label for label, _ in where}) > 1:
            assert all(weight < 1 for _, weight in where), (text, where)


def test_negatives_never_contradict_own_keywords(tree):
    for cat in tree:
        own = {kw.text for kw in cat.keywords()}
        assert not own & set(cat.negative), cat.label


def test_emergency_classes_are_flagged_urgent(tree):
    urgent = {cat.label for cat in tree if cat.urgent}
    assert {"event:0401", "event:0403", "event:0405", "event:0409"} <= urgent
    assert all(label.startswith("event:04") for label in urgent)


def test_departments_given_by_the_csv_are_kept(tree, tmp_path):
    empty = tmp_path / "none.yaml"
    empty.write_text("{}\n", encoding="utf-8")
    national = load_tree(keywords_path=empty)
    given = [c for c in national if c.department]
    assert given
    for cat in given:
        assert tree.get(cat.label).department == cat.department
        assert tree.get(cat.label).time_limit_hours == cat.time_limit_hours


# -- loader validation --------------------------------------------------------------------------

def test_minimal_files_load(tmp_path):
    keywords = "component:0114:\n  zh: [井盖, {text: 盖子, weight: 0.5}]\n"
    csv_path, kw_path = _write(tmp_path, GOOD_ROWS, keywords)
    tree = load_tree(csv_path, kw_path)
    assert len(tree) == 2
    assert [(k.text, k.weight) for k in tree.get("component:0114").keywords_zh] == [
        ("井盖", 1.0), ("盖子", 0.5)]


def test_a_class_without_an_english_name_shows_its_chinese_one(tmp_path):
    csv_path, kw_path = _write(tmp_path, [GOOD_ROWS[0].replace("Unowned manhole cover", "")])
    assert load_tree(csv_path, kw_path).get("component:0114").name_en == "无主井盖"


@pytest.mark.parametrize(("rows", "message"), [
    ([*GOOD_ROWS, GOOD_ROWS[0]], r"classes\.csv:4: duplicate code component:0114"),
    ([GOOD_ROWS[0].replace("无主井盖", "")], r"classes\.csv:2: missing name for component:0114"),
    ([GOOD_ROWS[0].replace(",0114,", ",0214,")], r"minor 0214 is not under major 01 \(unknown parent\)"),
    ([GOOD_ROWS[0].replace("component,", "part,", 1)], r"unknown kind 'part'"),
    ([GOOD_ROWS[0].replace(",0114,", ",114,")], r"malformed code"),
    ([GOOD_ROWS[1].replace(",4,", ",soon,")], r"time_limit_hours: 'soon' is not a number"),
])
def test_loader_rejects_bad_csv(tmp_path, rows, message):
    csv_path, kw_path = _write(tmp_path, rows)
    with pytest.raises(CategoryError, match=message):
        load_tree(csv_path, kw_path)


@pytest.mark.parametrize(("keywords", "message"), [
    ("event:0999:\n  zh: [垃圾]\n", r"keywords for unknown class event:0999"),
    ("rubbish:\n  zh: [垃圾]\n", r"malformed label 'rubbish'"),
    ("event:0102:\n  zh: [42]\n", r"event:0102: keyword 42 must be a string"),
    ("event:0102:\n  zh: [{weight: 0.5}]\n", r"event:0102: keyword .* must be a string or \{text, weight\}"),
    ("event:0102:\n  zh: [{text: 垃圾, weight: lots}]\n",
     r"event:0102: keyword .* weight: 'lots' is not a number"),
    ("event:0102:\n  zh: [{text: 垃圾, weight: 0}]\n", r"weight must be positive"),
    ("event:0102:\n  zh: [{text: 垃圾, wieght: 0.5}]\n", r"must be a string or \{text, weight\}"),
    ("event:0102:\n  zh: ['  ']\n", r"event:0102: empty keyword"),
    ("event:0102:\n  zh: 垃圾\n", r"event:0102: keywords must be a list"),
    ("event:0102:\n  negative: 垃圾桶\n", r"event:0102: negative must be a list"),
    ("event:0102:\n  time_limit_hours: soon\n", r"event:0102: time_limit_hours: 'soon' is not a number"),
    ("event:0102:\n  keywords: [垃圾]\n", r"event:0102: unknown field\(s\) keywords"),
    ("event:0102: [垃圾]\n", r"event:0102: expected a mapping of fields"),
    ("event:0102:\n  zh: [垃圾]\nevent:0102:\n  en: [litter]\n", r"duplicate key 'event:0102' at line 3"),
    ("- event:0102\n", r"expected a mapping of label"),
])
def test_loader_rejects_bad_keywords(tmp_path, keywords, message):
    csv_path, kw_path = _write(tmp_path, GOOD_ROWS, keywords)
    with pytest.raises(CategoryError, match=message):
        load_tree(csv_path, kw_path)


# -- administrators' edits ----------------------------------------------------------------------

def test_with_overrides_applies_an_edit_and_bumps_the_version(tree):
    edited = tree.with_overrides(
        {"component:0118": {"department": "淇滨区路灯所", "zh": ["路灯", {"text": "灯瞎了", "weight": 0.7}],
                            "enabled": False}},
        version=tree.version + 1,
    )
    assert edited.version == tree.version + 1
    lamp = edited.get("component:0118")
    assert lamp.department == "淇滨区路灯所" and not lamp.enabled
    assert [(k.text, k.weight) for k in lamp.keywords_zh] == [("路灯", 1.0), ("灯瞎了", 0.7)]
    assert lamp.keywords_en == tree.get("component:0118").keywords_en  # untouched field kept
    assert "component:0118" not in {c.label for c in edited.enabled()}
    assert tree.get("component:0118").enabled  # the original tree is unchanged
    with pytest.raises(CategoryError, match="unknown label 'event:0888'"):
        tree.with_overrides({"event:0888": {"urgent": True}}, version=2)


def test_as_overrides_round_trips_every_class(tree):
    overrides = {label: tree.as_overrides(label) for label in tree.categories}
    restored = tree.with_overrides(overrides, version=7)
    assert restored.version == 7
    assert restored.categories == tree.categories
    # and the plain data survives a YAML dump, as an admin export would
    reloaded = yaml.safe_load(yaml.safe_dump(overrides, allow_unicode=True))
    assert tree.with_overrides(reloaded, version=8).categories == tree.categories


# -- referral and emergency data ----------------------------------------------------------------

_GSM7 = set("@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
            "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà")
_GSM7_EXT = set("^{}\\[~]|€")


def _fits_one_sms(text: str) -> bool:
    if all(ch in _GSM7 or ch in _GSM7_EXT for ch in text):
        return len(text) + sum(ch in _GSM7_EXT for ch in text) <= 160
    return len(text) <= 70  # UCS-2


def _check_entries(entries: list[dict], required: set[str]) -> None:
    ids = [entry["id"] for entry in entries]
    assert len(ids) == len(set(ids))
    assert required <= set(ids)
    for entry in entries:
        for lang in ("zh", "en"):
            phrases = entry[lang]
            assert phrases and all(isinstance(p, str) and p.strip() for p in phrases), entry["id"]
        assert re.search(r"[\u4e00-\u9fff]", entry["reply_zh"]) and len(entry["reply_zh"]) <= 60
        assert len(entry["reply_en"]) <= 140
        for reply in (entry["reply_zh"], entry["reply_en"]):
            assert _fits_one_sms(reply), (entry["id"], reply)


def test_out_of_scope_topics_parse_and_refer_within_one_sms():
    topics = _yaml("out_of_scope.yaml")["topics"]
    _check_entries(topics, {"social_security", "medical_insurance", "school_enrolment",
                            "electricity", "housing_fund", "tax", "consumer", "police",
                            "neighbour", "government", "greeting"})
    replies = " ".join(t["reply_zh"] + t["reply_en"] for t in topics)
    for hotline in ("12333", "95598", "12329", "12366", "12315", "110", "12345"):
        assert hotline in replies


def test_urgent_cues_parse_and_name_the_number_to_call():
    cues = _yaml("urgent.yaml")["cues"]
    _check_entries(cues, {"fire", "gas", "injury", "crime", "collapse", "live_wire"})
    for cue in cues:
        assert re.fullmatch(r"\d{3,5}", cue["number"]), cue["id"]
        assert cue["number"] in cue["reply_zh"] and cue["number"] in cue["reply_en"]


def test_referral_cues_never_double_as_city_keywords(tree):
    city = {kw.text.lower() for cat in tree for kw in cat.keywords()}
    topics = _yaml("out_of_scope.yaml")["topics"]
    cues = [p.lower() for t in topics for lang in ("zh", "en") for p in t[lang]]
    assert not city & set(cues)
    emergencies = {p.lower() for c in _yaml("urgent.yaml")["cues"] for lang in ("zh", "en") for p in c[lang]}
    assert not emergencies & set(cues)
