"""The real-message corpus (nlp/data/real/raw/*.jsonl) keeps the README's record format.

Splits, evaluation and retraining read these files as they are: a label outside the tree, a
repeated id, a phone number left in a text or the same letter in two files would skew every figure
measured on them without anyone noticing.
"""

import json
import re
from pathlib import Path

from rapidfuzz import fuzz, process

REAL = Path(__file__).resolve().parents[1] / "nlp" / "data" / "real"
KEYS = {"id", "text", "lang", "label", "source", "licence", "group"}
LABELS = {
    row.split("\t", 1)[0] for row in (REAL / "labels.tsv").read_text("utf-8").splitlines() if row.strip()
}
PERSONAL = re.compile(r"(?<!\d)(1[3-9]\d{9}|\d{17}[\dXx])(?!\d)")


def _records() -> list[tuple[str, dict]]:
    """Every record, tagged with file:line."""
    out = []
    for path in sorted((REAL / "raw").glob("*.jsonl")):
        for n, line in enumerate(path.read_text("utf-8").splitlines(), 1):
            out.append((f"{path.name}:{n}", json.loads(line)))
    return out


RECORDS = _records()


def _problems(where: str, rec: dict) -> list[str]:
    """What is wrong with one record (empty when it is well formed)."""
    name = where.split(":", 1)[0]
    labels = rec.get("label")
    text = rec.get("text")
    is_list = isinstance(labels, list)
    checks = {
        "keys": set(rec) == KEYS,
        "lang matches the file prefix": rec.get("lang") == name.split("-", 1)[0],
        "text non-empty and stripped": isinstance(text, str) and bool(text) and text == text.strip(),
        "source is a URL or github:": str(rec.get("source")).startswith(("http://", "https://", "github:")),
        "licence, group, id given": all(str(rec.get(k, "")).strip() for k in ("licence", "group", "id")),
        "label a list without repeats": is_list and bool(labels) and len(set(labels)) == len(labels),
        "labels in labels.tsv or exactly none": is_list and (labels == ["none"] or set(labels) <= LABELS),
        "no phone or ID number": not PERSONAL.search(str(text)),
    }
    return [f"{where}: {what}" for what, ok in checks.items() if not ok]


def test_every_record_is_well_formed():
    assert RECORDS
    bad = [p for where, rec in RECORDS for p in _problems(where, rec)]
    assert not bad, f"{len(bad)} problems, e.g. {bad[:10]}"


def test_corpus_has_both_languages():
    assert {rec["lang"] for _, rec in RECORDS} >= {"zh", "en"}


def test_ids_are_unique():
    ids = [rec["id"] for _, rec in RECORDS]
    assert len(ids) == len(set(ids))


def test_no_near_duplicates_within_or_across_files():
    texts = [rec["text"].lower() for _, rec in RECORDS]
    scores = process.cdist(texts, texts, scorer=fuzz.ratio, score_cutoff=90, dtype="uint8", workers=1)
    pairs = [(RECORDS[i][0], RECORDS[j][0]) for i, j in zip(*scores.nonzero(), strict=True) if i < j]
    assert not pairs, f"{len(pairs)} near-duplicate pairs, e.g. {pairs[:5]}"
