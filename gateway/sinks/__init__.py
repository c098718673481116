"""Sinks to the city platform, one module each behind `base.Sink`: the signed JSON webhook,
Open311 GeoReport v2 and the no-op. Resident messages go out through the channels' senders."""

from __future__ import annotations

import httpx

from gateway.sinks.base import Sink
from gateway.sinks.noop import NoopSink
from gateway.sinks.open311 import Open311Client, Open311Sink
from gateway.sinks.webhook import WebhookSink
from settings.typed import PlatformSettings


def open311_client(platform: PlatformSettings, http: httpx.Client) -> Open311Client | None:
    """The Open311 client of `[forwarding]`, or None when no endpoint is configured."""
    if not platform.open311_endpoint:
        return None
    return Open311Client(platform.open311_endpoint, platform.open311_jurisdiction,
                         platform.open311_api_key or None, http)


def platform_sinks(platform: PlatformSettings, http: httpx.Client) -> dict[str, Sink]:
    """Every platform sink by name; an unconfigured one retries its rows until it is configured."""
    sinks: list[Sink] = [
        WebhookSink(platform.webhook_url, platform.webhook_secret or None, http),
        Open311Sink(open311_client(platform, http)),
        NoopSink(),
    ]
    return {sink.name: sink for sink in sinks}
