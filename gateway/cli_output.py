"""What every `gridintake` command shares: JSON on stdout, one-line errors, the runtime."""

from __future__ import annotations

import json
import sys
from typing import Any


def emit(data: Any) -> None:
    json.dump(data, sys.stdout, ensure_ascii=False, indent=2)
    sys.stdout.write("\n")


class CommandError(Exception):
    """A user-facing failure: printed as one line, exit status 1."""


def runtime():
    """The runtime of this command, built from the configuration when the command runs (a
    command that needs none, such as `classify`, never loads the database or the engine)."""
    from gateway.runtime import Runtime

    return Runtime.from_env()
