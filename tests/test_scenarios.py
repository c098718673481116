"""The scenario suite: every conversation in tests/scenarios/*.yaml, played on SQLite and
replayed on PostgreSQL (tests/support/scenarios.py says what a file may hold)."""

from __future__ import annotations

import pytest

from tests.conftest import make_runtime
from tests.support.scenarios import Player, load, scenario_files
from tests.support.sms import ACCOUNT, TOKEN


@pytest.fixture
def scenario_runtime(tmp_path, database_url):
    rt = make_runtime(tmp_path / "var", database_url, GRIDINTAKE_TWILIO_AUTH_TOKEN=TOKEN,
                      GRIDINTAKE_TWILIO_ACCOUNT_SID=ACCOUNT,
                      GRIDINTAKE_TWILIO_FROM="+14155550100",
                      GRIDINTAKE_PLATFORM_SECRET="scenario-platform-secret")
    yield rt
    rt.db.dispose()


@pytest.mark.parametrize("path", scenario_files(), ids=lambda p: p.stem)
def test_scenario(path, scenario_runtime):
    Player(scenario_runtime, load(path), path.stem).play()


def test_the_suite_has_scenarios():
    assert len(scenario_files()) >= 1
