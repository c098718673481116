"""Run one `gridintake` geo subcommand in-process, as the console command would."""

from __future__ import annotations

import argparse

from geo.commands import register


def run_geo_command(*argv: str) -> int:
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    args = parser.parse_args(argv)
    return args.func(args)
