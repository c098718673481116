"""pytest fixtures: a fresh emulator + compatibility layer per test, residents, a bot runner.

Load with `pytest_plugins = ["tests.tgemu.fixtures"]` in tests/conftest.py.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from telegram.ext import Application, ApplicationBuilder

from tests.support.dependencies import missing
from tests.tgemu.compat import BotApiCompat
from tests.tgemu.emulator import Emulator, EmulatorUnavailable
from tests.tgemu.resident import Resident
from tests.tgemu.runner import BotRunner, application_builder

BOT_TOKEN = "7000000001:AAF-gridintake-emulator-token"


@dataclass
class TelegramHarness:
    emulator: Emulator
    api: BotApiCompat
    _user_ids: Iterator[int] = field(default_factory=lambda: itertools.count(100000001))

    @property
    def token(self) -> str:
        return self.api.token

    def resident(self, **user: Any) -> Resident:
        """A new user in a private chat with the bot (fresh user id unless given)."""
        user_id = user.pop("user_id", None) or next(self._user_ids)
        return Resident(self.api, user_id, **user)

    def application_builder(self) -> ApplicationBuilder:
        return application_builder(self.api)

    def run(self, application: Application, **options: Any) -> BotRunner:
        """`with tg.run(app):` polls until the block ends."""
        return BotRunner(application, **options)


@pytest.fixture
def tg() -> Iterator[TelegramHarness]:
    emulator = Emulator(BOT_TOKEN)
    try:
        emulator.start()
    except EmulatorUnavailable as error:
        missing("the telegram-test-api emulator (make test-deps)", error)
    api = BotApiCompat(emulator)
    api.start()
    try:
        yield TelegramHarness(emulator, api)
    finally:
        api.stop()
        emulator.stop()


@pytest.fixture
def resident(tg: TelegramHarness) -> Resident:
    return tg.resident()
