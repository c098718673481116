"""Channel subcommands: `gridintake transcripts import FILE.csv` (hotline batches)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from gateway.cli_output import runtime as build_runtime


def cmd_transcripts_import(args: argparse.Namespace) -> int:
    """One JSON line per row (created / duplicate / referral / error with the reason), then the totals;
    exit status 1 when any row failed, after every row was tried."""
    from bot.handlers.hotline.handler import import_csv

    runtime = build_runtime()
    totals = {"created": 0, "duplicate": 0, "referral": 0, "error": 0}
    for report in import_csv(runtime, Path(args.file), actor=args.actor):
        totals[report["result"]] += 1
        print(json.dumps(report, ensure_ascii=False), flush=True)
    print(json.dumps({"totals": totals}, ensure_ascii=False))
    return 1 if totals["error"] else 0


def register(subparsers) -> None:
    transcripts = subparsers.add_parser("transcripts", help="hotline call transcripts")
    sub = transcripts.add_subparsers(dest="transcripts_command", required=True)
    p = sub.add_parser("import", help="file cases from a CSV of transcripts",
                       description=cmd_transcripts_import.__doc__)
    p.add_argument("file", help="CSV with columns call_id, transcript[, caller_phone, operator_id, "
                                "place, label, consent_sms]; UTF-8 or GB18030")
    p.add_argument("--actor", default="import", help="who the cases are recorded as filed by")
    p.set_defaults(func=cmd_transcripts_import)

