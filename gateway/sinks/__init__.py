"""Sinks to the city platform, one module each behind `base.Sink`: the signed JSON webhook,
Open311 GeoReport v2 and the no-op. Resident messages go out through the channels' senders."""

from __future__ import annotations

from typing import Any

import httpx

from gateway.sinks.base import Sink
from gateway.sinks.noop import NoopSink
from gateway.sinks.open311 import Open311Client, Open311Sink
from gateway.sinks.webhook import WebhookSink


def open311_client(config: Any, http: httpx.Client) -> Open311Client | None:
    """The Open311 client of `[forwarding]`, or None when no endpoint is configured."""
    endpoint = config.get("forwarding", "open311_endpoint")
    if not endpoint:
        return None
    return Open311Client(endpoint, config.get("forwarding", "open311_jurisdiction") or "",
                         config.secret("OPEN311_API_KEY"), http)


def platform_sinks(config: Any, http: httpx.Client) -> dict[str, Sink]:
    """Every platform sink by name; an unconfigured one retries its rows until it is configured."""
    sinks: list[Sink] = [
        WebhookSink(config.get("forwarding", "webhook_url"), config.secret("WEBHOOK_SECRET"), http),
        Open311Sink(open311_client(config, http)),
        NoopSink(),
    ]
    return {sink.name: sink for sink in sinks}
