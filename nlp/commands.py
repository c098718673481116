"""CLI subcommands ``classify``, ``eval``, ``train``, ``problems``, ``corpus build`` (wired into
``gridintake`` by gateway.cli, which passes the running service's classifier: administrators'
keyword edits and the active model included, so the CLI and the service agree)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

ClassifierSource = Callable[[], Any]  # -> nlp.Classifier


def _shipped() -> Any:
    from nlp import get_classifier

    return get_classifier()


def _print(data: Any) -> None:
    print(json.dumps(data, ensure_ascii=False, indent=2))


def _fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 1


def cmd_classify(args: argparse.Namespace) -> int:
    if not args.text.strip():
        return _fail("empty text")
    _print(args.classifier().classify(args.text, args.lang).to_json())
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from nlp import evaluate

    path = Path(args.file)
    try:
        records = [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]
        _print(evaluate(args.classifier(), records, details=args.details, edition=args.edition))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return _fail(f"{path}: {exc}")
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from nlp.model import default_model_dir
    from nlp.train import fit_confidence, train

    out = Path(args.out) if args.out else None
    try:
        _print(fit_confidence(out or default_model_dir()) if args.confidence_only else train(out))
    except (OSError, ValueError) as exc:
        return _fail(str(exc))
    return 0


def cmd_problems(args: argparse.Namespace) -> int:
    from nlp import get_classifier
    from nlp.problems import find_problems

    classifier = get_classifier()
    if args.jsonl:
        try:
            lines = Path(args.jsonl).read_text("utf-8").splitlines()
            texts = [str(json.loads(line)["text"]) for line in lines if line.strip()]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            return _fail(f"{args.jsonl}: {exc}")
        for text in texts:
            found = find_problems(classifier, text)
            print(json.dumps({"problems": [p.to_json() for p in found]}, ensure_ascii=False))
        return 0
    if args.text is None:
        return _fail("give TEXT or --jsonl FILE")
    _print({"problems": [p.to_json() for p in find_problems(classifier, args.text)]})
    return 0


def cmd_corpus_build(args: argparse.Namespace) -> int:
    from nlp.corpus import build

    report = build(Path(args.raw) if args.raw else None, Path(args.out) if args.out else None)
    _print(report.to_json())
    return 1 if args.strict and report.rejected else 0


def register(subparsers: Any, classifier: ClassifierSource = _shipped) -> None:
    """Add ``classify``, ``eval``, ``train``, ``problems`` and ``corpus`` to an argparse subparsers
    object; ``classifier`` gives the classifier ``classify`` and ``eval`` use (default: the
    shipped one)."""
    p = subparsers.add_parser("classify", help="classify one message, print JSON")
    p.add_argument("text")
    p.add_argument("--lang", choices=("zh", "en"), default=None)
    p.set_defaults(func=cmd_classify, classifier=classifier)

    p = subparsers.add_parser("eval", help="accuracy on a JSONL file of {text, label}")
    p.add_argument("file")
    p.add_argument("--details", action="store_true", help="add confusions and worst classes")
    p.add_argument("--edition", default=None,
                   help="figures in this catalogue edition, labels mapped through the crosswalk")
    p.set_defaults(func=cmd_eval, classifier=classifier)

    p = subparsers.add_parser("train", help="retrain the text classifier into nlp/data/model")
    p.add_argument("--out", default=None, help="model directory (default: the shipped one)")
    p.add_argument("--confidence-only", action="store_true",
                   help="only refit the stated confidence on the real dev split")
    p.set_defaults(func=cmd_train)

    p = subparsers.add_parser("problems", help="the distinct problems in one message, as JSON")
    p.add_argument("text", nargs="?", default=None)
    p.add_argument("--jsonl", default=None, help='a file of {"text": ...} lines: one JSON line each')
    p.set_defaults(func=cmd_problems)

    corpus = subparsers.add_parser("corpus", help="the real-message corpus").add_subparsers(
        dest="corpus_command", required=True)
    p = corpus.add_parser("build", help="validate real/raw/*.jsonl, drop near-duplicates, "
                                        "write the train/dev/test splits by group")
    p.add_argument("--raw", default=None, help="raw directory (default: nlp/data/real/raw)")
    p.add_argument("--out", default=None, help="output directory (default: nlp/data/real)")
    p.add_argument("--strict", action="store_true", help="exit 1 when a raw record is rejected")
    p.set_defaults(func=cmd_corpus_build)
