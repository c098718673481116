"""Telegram test harness: the telegram-test-api emulator behind a Bot API compatibility layer.

The bot under test talks real HTTP to `BotApiCompat` (true to the official Bot API); the
test drives `Resident` clients that write user updates into the emulator and read the
bot's replies back.
"""

from tests.tgemu.compat import BotApiCompat, SentMessage
from tests.tgemu.emulator import Emulator, EmulatorUnavailable
from tests.tgemu.resident import Resident
from tests.tgemu.runner import BotRunner

__all__ = [
    "BotApiCompat",
    "BotRunner",
    "Emulator",
    "EmulatorUnavailable",
    "Resident",
    "SentMessage",
]
