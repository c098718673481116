"""The real-message corpus (nlp/data/real/raw/*.jsonl) keeps its record format.

Splits, evaluation and retraining read these files as they are, so a bad label, a repeated id or
a near-duplicate across files would silently skew every figure measured on them.
"""

import json
import re
from pathlib import Path

import pytest
from rapidfuzz import fuzz, process

REAL = Path(__file__).resolve().parents[1] / "nlp" / "data" / "real"
FILES = sorted((REAL / "raw").glob("*.jsonl"))
KEYS = {"id", "text", "lang", "label", "source", "licence", "group"}
LABELS = {
    row.split("\t", 1)[0] for row in (REAL / "labels.tsv").read_text("utf-8").splitlines() if row.strip()
}
PERSONAL = re.compile(r"(?<!\d)(1[3-9]\d{9}|\d{17}[\dXx])(?!\d)")


def _records() -> list[tuple[str, int, dict]]:
    """Every record with its file name and line number."""
    out = []
    for path in FILES:
        for n, line in enumerate(path.read_text("utf-8").splitlines(), 1):
            assert line.strip(), f"{path.name}:{n} blank line"
            out.append((path.name, n, json.loads(line)))
    return out


RECORDS = _records()


def test_corpus_has_both_languages():
    langs = {rec["lang"] for _, _, rec in RECORDS}
    assert {"zh", "en"} <= langs


def _problems(name: str, n: int, rec: dict) -> list[str]:
    """What is wrong with one record (empty when it is well formed)."""
    where = f"{name}:{n}"
    if set(rec) != KEYS:
        return [f"{where}: keys {sorted(rec)}"]
    found = []
    if rec["lang"] != name.split("-", 1)[0]:
        found.append(f"{where}: lang {rec['lang']!r} in {name}")
    text = rec["text"]
    if not isinstance(text, str) or not text or text.strip() != text:
        found.append(f"{where}: empty or unstripped text")
    elif PERSONAL.search(text):
        found.append(f"{where}: phone or ID number left in the text")
    if not rec["source"].startswith(("http://", "https://", "github:")):
        found.append(f"{where}: source {rec['source']!r}")
    if not (rec["licence"].strip() and rec["group"].strip() and rec["id"].strip()):
        found.append(f"{where}: empty id, licence or group")
    labels = rec["label"]
    if not isinstance(labels, list) or not labels or len(set(labels)) != len(labels):
        found.append(f"{where}: label {labels!r}")
    elif labels != ["none"] and not set(labels) <= LABELS:
        found.append(f"{where}: label {labels!r} not in labels.tsv (or none mixed with a class)")
    return found


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_record_format(path):
    problems = [p for name, n, rec in RECORDS if name == path.name for p in _problems(name, n, rec)]
    assert not problems, "\n".join(problems[:20])


def test_ids_unique():
    ids = [rec["id"] for _, _, rec in RECORDS]
    assert len(ids) == len(set(ids))


def test_no_near_duplicates_across_the_corpus():
    texts = [rec["text"].lower() for _, _, rec in RECORDS]
    scores = process.cdist(texts, texts, scorer=fuzz.ratio, score_cutoff=90, dtype="uint8", workers=1)
    pairs = [(i, j) for i, j in zip(*scores.nonzero(), strict=True) if i < j]
    shown = [(RECORDS[i][2]["id"], RECORDS[j][2]["id"]) for i, j in pairs[:5]]
    assert not pairs, f"{len(pairs)} near-duplicate pairs, e.g. {shown}"
