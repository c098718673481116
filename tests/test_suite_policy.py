"""The suite's own rule: under `make test` a skip for a missing dependency is a failure."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

INNER = '''
from tests.support.dependencies import missing

def test_needs_something_absent():
    missing("a service that is not here", "connection refused")

def test_plain_skip_stays_a_skip():
    import pytest
    pytest.skip("not relevant on this platform")
'''


@pytest.mark.parametrize(("required", "failed"), [("1", 1), ("", 0)])
def test_missing_dependency_fails_only_when_required(pytester, monkeypatch, required, failed):
    monkeypatch.setenv("GRIDINTAKE_REQUIRE_TEST_DEPS", required)
    monkeypatch.syspath_prepend(str(ROOT))
    pytester.makeconftest((ROOT / "tests" / "conftest.py").read_text())
    pytester.makepyfile(test_inner=INNER)
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(failed=failed, skipped=2 - failed)
