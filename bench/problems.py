"""Several problems in one message, measured on a set built from real messages.

``--build`` writes ``nlp/data/real/multi.jsonl`` from the real test split (seeded, re-runnable):
pairs of two residents' messages of the same language with different classes, written one after
the other as one message ("A。B" / "A. B"), and single messages as controls. Each record keeps the
ids and sources of the messages it was made of and the gold problems in order (a list of
acceptable labels each).

Figures: the share of messages whose number of problems is right, and the share whose problems
are all right in order (each found label among that problem's acceptable ones), for pairs and
singles apart.

Usage: python bench/problems.py [--build]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from nlp import get_classifier  # noqa: E402
from nlp.corpus import read_split, real_dir  # noqa: E402
from nlp.problems import find_problems  # noqa: E402

SET = real_dir() / "multi.jsonl"
SEED = 15
PAIRS_PER_LANG = 40
SINGLES_PER_LANG = 20
MAX_CHARS = 160  # each part: a letter of two long letters is not what residents send


def _join(a: str, b: str, lang: str) -> str:
    a = a.strip()
    if lang == "zh":
        return (a if a[-1] in "。！？!?" else a + "。") + b.strip()
    return (a if a[-1] in ".!?" else a + ".") + " " + b.strip()


def build() -> list[dict]:
    rng = random.Random(SEED)
    out = []
    for lang in ("zh", "en"):
        usable = sorted((r for r in read_split("test", lang)
                         if r["label"] != ["none"] and len(r["text"]) <= MAX_CHARS),
                        key=lambda r: r["id"])
        rng.shuffle(usable)
        singles, rest = usable[:SINGLES_PER_LANG], usable[SINGLES_PER_LANG:]
        for r in singles:
            out.append({"text": r["text"], "lang": lang, "problems": [r["label"]],
                        "sources": [{"id": r["id"], "source": r["source"]}]})
        pairs = 0
        while pairs < PAIRS_PER_LANG and len(rest) >= 2:
            a = rest.pop()
            b = next((x for x in rest if not set(x["label"]) & set(a["label"])), None)
            if b is None:
                continue
            rest.remove(b)
            out.append({"text": _join(a["text"], b["text"], lang), "lang": lang,
                        "problems": [a["label"], b["label"]],
                        "sources": [{"id": a["id"], "source": a["source"]},
                                    {"id": b["id"], "source": b["source"]}]})
            pairs += 1
    return out


def measure(records: list[dict]) -> dict[str, dict[str, float]]:
    clf = get_classifier()
    rows: dict[str, list[tuple[bool, bool]]] = {}
    started = time.perf_counter()
    for rec in records:
        found = find_problems(clf, rec["text"])
        gold = rec["problems"]
        count_right = len(found) == len(gold)
        all_right = count_right and all(p.label in g for p, g in zip(found, gold, strict=True))
        kind = f"{rec['lang']} {'pairs' if len(gold) > 1 else 'singles'}"
        rows.setdefault(kind, []).append((count_right, all_right))
    ms = (time.perf_counter() - started) * 1000 / len(records)
    report = {kind: {"n": len(v), "count_right": round(sum(c for c, _ in v) / len(v), 3),
                     "all_right": round(sum(a for _, a in v) / len(v), 3)}
              for kind, v in sorted(rows.items())}
    report["ms_per_message"] = {"ms": round(ms, 2)}
    return report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--build", action="store_true", help="(re)write the set from the test split")
    args = parser.parse_args()
    if args.build:
        records = build()
        SET.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), "utf-8")
    records = [json.loads(line) for line in SET.read_text("utf-8").splitlines() if line.strip()]
    print(json.dumps(measure(records), ensure_ascii=False, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
