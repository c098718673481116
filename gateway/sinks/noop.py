"""The no-op sink: a case counts as forwarded without being sent anywhere (a pilot that runs
without a city platform yet), so the outbox still shows every case the platform would get."""

from __future__ import annotations

from typing import Any

from gateway.sinks.base import Sink
from storage.models import Outbox


class NoopSink(Sink):
    name = "noop"

    def __call__(self, runtime: Any, row: Outbox) -> dict | None:
        return {"sent": False}
