"""Build the real-message corpus: validate ``real/raw/*.jsonl``, drop near-duplicates, split.

Re-run whenever a raw file arrives (``gridintake corpus build``). The split is by whole group
(``record["group"]``: a thread or a dataset file's place cell), so no group straddles two splits.
Which split a group went to is kept in ``real/groups.tsv``: a group once placed never moves, so
adding a raw file only places the new groups (largest first, each into the split of its language
furthest below its 60/20/20 share) and no message already in a split changes split.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
from rapidfuzz import fuzz, process

from categories import NONE_LABEL, CategoryTree, load_tree

SPLITS = ("train", "dev", "test")
SHARES = {"train": 0.6, "dev": 0.2, "test": 0.2}
LANGS = ("zh", "en")
FIELDS = ("id", "text", "lang", "label", "source", "group", "licence")
NEAR_DUPLICATE = 90  # rapidfuzz ratio on lower-cased, space-squeezed text (as the raw files' own rule)
GROUPS_FILE = "groups.tsv"


def real_dir() -> Path:
    return Path(str(resources.files("nlp").joinpath("data", "real")))


@dataclass
class BuildReport:
    records: int = 0
    rejected: list[dict[str, str]] = field(default_factory=list)
    near_duplicates: list[dict[str, str]] = field(default_factory=list)
    splits: dict[str, dict[str, int]] = field(default_factory=dict)  # split → lang → messages
    groups: dict[str, int] = field(default_factory=dict)  # split → groups
    new_groups: int = 0

    def to_json(self) -> dict[str, Any]:
        return {"records": self.records, "splits": self.splits, "groups": self.groups,
                "new_groups": self.new_groups, "near_duplicates": len(self.near_duplicates),
                "rejected": self.rejected, "dropped": self.near_duplicates[:20]}


def problem(record: Any, tree: CategoryTree) -> str | None:
    """Why a raw record cannot be used, or None."""
    if not isinstance(record, dict):
        return "not a JSON object"
    missing = [f for f in FIELDS if not record.get(f)]
    if missing:
        return f"missing {', '.join(missing)}"
    if not isinstance(record["text"], str) or not record["text"].strip():
        return "text is not a non-empty string"
    if record["lang"] not in LANGS:
        return f"lang {record['lang']!r} is not one of {LANGS}"
    labels = record["label"]
    if not isinstance(labels, list) or not all(isinstance(lb, str) for lb in labels):
        return "label is not a list of strings"
    unknown = [lb for lb in labels if lb != NONE_LABEL and lb not in tree]
    if unknown:
        return f"unknown label {', '.join(unknown)}"
    if NONE_LABEL in labels and len(labels) > 1:
        return "none beside a class"
    return None


def read_raw(raw_dir: Path, tree: CategoryTree, report: BuildReport) -> list[dict[str, Any]]:
    """Valid records of every raw file, in file-name then line order (rejects go to ``report``)."""
    records, seen = [], set()
    for path in sorted(raw_dir.glob("*.jsonl")):
        for lineno, line in enumerate(path.read_text("utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            where = f"{path.name}:{lineno}"
            try:
                record = json.loads(line)
            except ValueError as exc:
                report.rejected.append({"where": where, "why": f"bad JSON: {exc}"})
                continue
            why = problem(record, tree)
            if why is None and record["id"] in seen:
                why = f"duplicate id {record['id']}"
            if why:
                report.rejected.append({"where": where, "why": why})
                continue
            seen.add(record["id"])
            records.append(record)
    return records


def _key(text: str) -> str:
    return " ".join(text.lower().split())


def drop_near_duplicates(records: Sequence[dict[str, Any]], report: BuildReport) -> list[dict[str, Any]]:
    """Keep the first of each set of texts (per language) whose ratio is ≥ ``NEAR_DUPLICATE``."""
    dropped: set[int] = set()
    by_lang: dict[str, list[int]] = defaultdict(list)
    for i, rec in enumerate(records):
        by_lang[rec["lang"]].append(i)
    for indices in by_lang.values():
        texts = [_key(records[i]["text"]) for i in indices]
        scores = process.cdist(texts, texts, scorer=fuzz.ratio, score_cutoff=NEAR_DUPLICATE,
                               dtype=np.uint8, workers=1)
        for a, b in zip(*np.nonzero(np.triu(scores, k=1)), strict=True):
            first, later = indices[int(a)], indices[int(b)]
            if first not in dropped and later not in dropped:
                dropped.add(later)
                report.near_duplicates.append({"dropped": records[later]["id"],
                                               "kept": records[first]["id"]})
    return [r for i, r in enumerate(records) if i not in dropped]


def read_groups(path: Path) -> dict[str, str]:
    if not path.exists():
        return {}
    rows = (line.split("\t") for line in path.read_text("utf-8").splitlines() if line.strip())
    return {group: split for group, split in rows}


def place_groups(records: Iterable[dict[str, Any]], placed: dict[str, str]) -> dict[str, str]:
    """Every group's split: the placed ones keep theirs; new ones, largest first, go to the split
    of their language furthest below its share of that language's messages."""
    size: Counter[str] = Counter()
    lang_of: dict[str, Counter[str]] = defaultdict(Counter)
    for rec in records:
        size[rec["group"]] += 1
        lang_of[rec["group"]][rec["lang"]] += 1
    total: Counter[str] = Counter()
    have: dict[str, Counter[str]] = defaultdict(Counter)  # lang → split → messages
    for group, n in size.items():
        lang = lang_of[group].most_common(1)[0][0]
        total[lang] += n
        if group in placed:
            have[lang][placed[group]] += n
    out = dict(placed)
    for group in sorted((g for g in size if g not in placed), key=lambda g: (-size[g], g)):
        lang = lang_of[group].most_common(1)[0][0]
        split = max(SPLITS, key=lambda s: SHARES[s] * total[lang] - have[lang][s])
        out[group] = split
        have[lang][split] += size[group]
    return out


def build(raw_dir: Path | None = None, out_dir: Path | None = None,
          tree: CategoryTree | None = None) -> BuildReport:
    """Read, validate, de-duplicate and split; writes ``{train,dev,test}.jsonl`` and
    ``groups.tsv`` into ``out_dir`` (default: ``nlp/data/real``)."""
    out_dir = out_dir or real_dir()
    raw_dir = raw_dir or out_dir / "raw"
    report = BuildReport()
    records = drop_near_duplicates(read_raw(raw_dir, tree or load_tree(), report), report)
    placed = read_groups(out_dir / GROUPS_FILE)
    groups = place_groups(records, placed)
    report.records = len(records)
    report.new_groups = len(groups) - len(placed)
    chunks: dict[str, list[str]] = {s: [] for s in SPLITS}
    report.splits = {s: {lang: 0 for lang in LANGS} for s in SPLITS}
    for rec in records:
        split = groups[rec["group"]]
        chunks[split].append(json.dumps(rec, ensure_ascii=False) + "\n")
        report.splits[split][rec["lang"]] += 1
    used = {rec["group"] for rec in records}
    report.groups = dict(Counter(groups[g] for g in used))
    out_dir.mkdir(parents=True, exist_ok=True)
    for split, lines in chunks.items():
        (out_dir / f"{split}.jsonl").write_text("".join(lines), "utf-8")
    (out_dir / GROUPS_FILE).write_text(
        "".join(f"{g}\t{s}\n" for g, s in sorted(groups.items())), "utf-8")
    return report


def read_split(name: str, lang: str | None = None, directory: Path | None = None) -> list[dict[str, Any]]:
    """The records of one built split (optionally of one language)."""
    path = (directory or real_dir()) / f"{name}.jsonl"
    if not path.exists():
        return []
    records = [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]
    return [r for r in records if lang is None or r["lang"] == lang]
