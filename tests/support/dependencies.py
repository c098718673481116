"""Skips for a missing outside dependency, which `make test` turns into failures.

`make test` installs everything the suite needs (Chromium, the Telegram emulator) and sets
GRIDINTAKE_REQUIRE_TEST_DEPS=1, so a green run there is a complete run. A developer without
those still gets a skip with the reason.
"""

from __future__ import annotations

from typing import NoReturn

import pytest

MISSING = "missing test dependency: "
REQUIRE_ENV = "GRIDINTAKE_REQUIRE_TEST_DEPS"


def missing(what: str, why: object) -> NoReturn:
    """Skip this test because `what` is absent; `make test` reports it as a failure."""
    pytest.skip(f"{MISSING}{what}: {why}")


def is_missing_dependency(reason: str) -> bool:
    return MISSING in reason
