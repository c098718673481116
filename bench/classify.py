"""Classifier benchmark: accuracy on the synthetic dev set and on the real test split (per
language), speed on one core, against two baselines.

Baselines, measured in the same run on the same data:
- exact keyword match (the class with most keywords occurring verbatim; ``none`` when nothing does);
- TF-IDF character 1–3-grams + LinearSVC (scikit-learn, dev-only), trained on nlp/data/train_*.jsonl.

Usage: python bench/classify.py [DEV.jsonl] [--real TEST.jsonl] [--repeat N]
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import argparse
import json
import math
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from categories import NONE_LABEL, CategoryTree, load_tree  # noqa: E402
from nlp import get_classifier  # noqa: E402
from nlp.normalize import normalize_text  # noqa: E402
from nlp.train import Record, load_training, read_jsonl  # noqa: E402

SHORT = 40  # characters: what "short message" means for the speed figures
Ranker = Callable[[Sequence[str]], list[list[str]]]  # texts → ranked labels per text


def keyword_baseline(tree: CategoryTree) -> Ranker:
    keywords = [(normalize_text(k.text), c.label) for c in tree.enabled() for k in c.keywords()]

    def rank(texts: Sequence[str]) -> list[list[str]]:
        out = []
        for text in texts:
            norm = normalize_text(text)
            counts: dict[str, int] = {}
            for word, label in keywords:
                if word and word in norm:
                    counts[label] = counts.get(label, 0) + 1
            ranked = sorted(counts, key=lambda lb: -counts[lb])
            out.append([*ranked, NONE_LABEL] if ranked else [NONE_LABEL])
        return out

    return rank


def tfidf_baseline(train: Sequence[Record]) -> Ranker:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.svm import LinearSVC

    vec = TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 3), sublinear_tf=True)
    x = vec.fit_transform([normalize_text(r.text) for r in train])
    model = LinearSVC(C=0.5, random_state=0).fit(x, [r.labels[0] for r in train])

    def rank(texts: Sequence[str]) -> list[list[str]]:
        scores = model.decision_function(vec.transform([normalize_text(t) for t in texts]))
        return [[model.classes_[i] for i in row.argsort()[::-1][:5]] for row in scores]

    return rank


def ensemble_ranker() -> Ranker:
    clf = get_classifier()
    return lambda texts: [[s.label for s in r.top] for r in clf.classify_many(list(texts))]


def accuracy(rank: Ranker, dev: Sequence[Record]) -> dict[str, float]:
    if not dev:
        return {"n": 0, "top1": math.nan, "top3": math.nan, "none_precision": math.nan,
                "none_recall": math.nan}
    ranked = rank([r.text for r in dev])
    top1 = sum(r[0] in d.labels for r, d in zip(ranked, dev, strict=True)) / len(dev)
    top3 = sum(any(x in d.labels for x in r[:3]) for r, d in zip(ranked, dev, strict=True)) / len(dev)
    said_none = [d for r, d in zip(ranked, dev, strict=True) if r[0] == NONE_LABEL]
    none_p = sum(NONE_LABEL in d.labels for d in said_none) / len(said_none) if said_none else 0.0
    gold_none = [r for r, d in zip(ranked, dev, strict=True) if NONE_LABEL in d.labels]
    none_r = sum(r[0] == NONE_LABEL for r in gold_none) / len(gold_none) if gold_none else math.nan
    return {"n": len(dev), "top1": top1, "top3": top3, "none_precision": none_p, "none_recall": none_r}


def real_split(path: Path) -> dict[str, list[Record]]:
    """The real test split as records, all and per language."""
    records = [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]
    as_record = [(r["lang"], Record(r["text"], tuple(r["label"]))) for r in records]
    return {"all": [r for _, r in as_record],
            **{lang: [r for lg, r in as_record if lg == lang] for lang in ("zh", "en")}}


def speed(rank: Ranker, texts: Sequence[str], one_by_one: bool) -> float:
    """Texts per second (batch call, or one call per text)."""
    rank(texts[:20])  # warm up
    started = time.perf_counter()
    if one_by_one:
        for t in texts:
            rank([t])
    else:
        rank(texts)
    return len(texts) / (time.perf_counter() - started)


def long_text_ms() -> dict[str, float]:
    """Best of five, milliseconds to classify a 10,000-character paste (the issue's bound: 50)."""
    clf = get_classifier()
    texts = {"zh": ("路灯坏了好几天了，晚上很黑。" * 800)[:10000],
             "en": ("The street light outside number 5 is out. " * 300)[:10000],
             "one word": "井" + "盖" * 9999}
    out = {}
    for name, text in texts.items():
        best = math.inf
        for _ in range(5):
            started = time.perf_counter()
            clf.classify(text)
            best = min(best, time.perf_counter() - started)
        out[name] = best * 1000
    return out


def classifier_rss_mb() -> float:
    """RSS of a fresh process after loading the default classifier and classifying once."""
    code = ("from nlp import get_classifier; get_classifier().classify('井盖坏了'); "
            "print([l for l in open('/proc/self/status') if l.startswith('VmRSS')][0].split()[1])")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         check=True)
    return int(out.stdout.strip()) / 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("dev", nargs="?", default=str(ROOT / "nlp" / "data" / "dev.jsonl"))
    parser.add_argument("--real", default=str(ROOT / "nlp" / "data" / "real" / "test.jsonl"),
                        help="the real test split (gridintake corpus build)")
    parser.add_argument("--repeat", type=int, default=5, help="copies of the short texts to time")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    tree = load_tree()
    dev = read_jsonl(Path(args.dev))
    real = real_split(Path(args.real))
    short = [r.text for r in dev if len(r.text) <= SHORT] * args.repeat
    rankers = {
        "exact keywords": keyword_baseline(tree),
        "tfidf+linearsvc": tfidf_baseline(load_training(tree)),
        "ensemble": ensemble_ranker(),
    }
    rows = {}
    for name, rank in rankers.items():
        row = accuracy(rank, dev)
        row["real"] = {part: accuracy(rank, records) for part, records in real.items()}
        row["texts_per_s_batch"] = speed(rank, short, one_by_one=False)
        row["texts_per_s_single"] = speed(rank, short[: len(short) // args.repeat], one_by_one=True)
        row["ms_per_text_single"] = 1000 / row["texts_per_s_single"]
        rows[name] = row
    rss = classifier_rss_mb()
    long_ms = long_text_ms()
    print(f"dev set: {len(dev)} messages; speed on {len(short)} short texts (≤{SHORT} chars), one core")
    print(f"{'':18}{'top1':>7}{'top3':>7}{'none P':>8}{'texts/s batch':>15}"
          f"{'texts/s 1-by-1':>16}{'ms/text':>9}")
    for name, r in rows.items():
        print(f"{name:18}{r['top1']:7.3f}{r['top3']:7.3f}{r['none_precision']:8.3f}"
              f"{r['texts_per_s_batch']:15.0f}{r['texts_per_s_single']:16.0f}{r['ms_per_text_single']:9.3f}")
    ens = rows["ensemble"]
    for base in ("exact keywords", "tfidf+linearsvc"):
        b = rows[base]
        print(f"ensemble vs {base}: top1 {ens['top1'] - b['top1']:+.3f}, "
              f"speed ×{ens['texts_per_s_batch'] / b['texts_per_s_batch']:.2f} (batch)")
    print(f"real test split ({args.real}): " + ", ".join(f"{k} {len(v)}" for k, v in real.items()))
    print(f"{'':18}{'part':>6}{'top1':>7}{'top3':>7}{'none P':>8}{'none R':>8}")
    for name, r in rows.items():
        for part, a in r["real"].items():
            print(f"{name:18}{part:>6}{a['top1']:7.3f}{a['top3']:7.3f}{a['none_precision']:8.3f}"
                  f"{a['none_recall']:8.3f}")
    print("10,000-character text, ms (best of 5): "
          + ", ".join(f"{k} {v:.1f}" for k, v in long_ms.items()))
    print(f"loaded classifier RSS: {rss:.0f} MB")
    print(json.dumps({"rows": rows, "rss_mb": rss, "long_text_ms": long_ms}, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
