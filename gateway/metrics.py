"""Prometheus at /metrics: what the processes counted (inbound messages, classifications,
webhook and delivery latency) plus gauges read from the database at scrape time (outbox depth
and oldest age per sink, dead letters, the outbox worker's heartbeat), so every gunicorn worker
answers the same.

Access: the client addresses in `[metrics] allow`, or a bearer token (GRIDINTAKE_METRICS_TOKEN).
Under gunicorn the workers and the outbox worker keep counters in `[metrics] dir`
(prometheus-client's multiprocess mode, gateway/metrics_dir.py)."""

from __future__ import annotations

import hmac
import os
import time

from flask import Blueprint, Response, abort, current_app, g, request
from prometheus_client import REGISTRY, CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.multiprocess import MultiProcessCollector
from sqlalchemy import func, select

from gateway.metrics_dir import MULTIPROC_ENV
from storage import heartbeats
from storage.db import transaction
from storage.models import Outbox, utcnow
from storage.states import OutboxStatus

# Blueprints whose requests are webhooks (a provider or the platform calls us).
WEBHOOKS = ("sms", "cnsms", "telegram_webhook", "wechat", "transcripts", "open311_server", "status_api")

WEBHOOK_SECONDS = Histogram("gridintake_webhook_seconds", "Time to answer a webhook, by blueprint",
                            ["blueprint"], buckets=(.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5))
DELIVERY_SECONDS = Histogram("gridintake_delivery_seconds",
                             "From writing an outbox row to its delivery, by sink", ["sink"],
                             buckets=(.1, .5, 1, 5, 15, 60, 300, 900, 3600, 14400))

bp = Blueprint("metrics", __name__)


class DatabaseCollector:
    """Gauges computed by the database when Prometheus scrapes (one GROUP BY per family)."""

    def __init__(self, sessions) -> None:
        self.sessions = sessions

    def collect(self):
        now = utcnow()
        depth = GaugeMetricFamily("gridintake_outbox_pending", "Outbox rows waiting, by sink",
                                  labels=["sink"])
        oldest = GaugeMetricFamily("gridintake_outbox_oldest_pending_seconds",
                                   "Age of the oldest waiting outbox row, by sink", labels=["sink"])
        dead = GaugeMetricFamily("gridintake_outbox_dead_letters", "Dead-lettered outbox rows, by sink",
                                 labels=["sink"])
        alive = GaugeMetricFamily("gridintake_workers_alive",
                                  "Outbox workers whose heartbeat is fresh (storage.heartbeats)")
        heartbeat = GaugeMetricFamily("gridintake_worker_heartbeat_age_seconds",
                                      "Seconds since the newest heartbeat of a running outbox "
                                      "worker (-1: none in the last day)")
        with transaction(self.sessions) as session:
            for sink, n, first in session.execute(
                    select(Outbox.sink, func.count(), func.min(Outbox.created_at))
                    .where(Outbox.status == OutboxStatus.PENDING).group_by(Outbox.sink)):
                depth.add_metric([sink], n)
                oldest.add_metric([sink], max(0.0, (now - first).total_seconds()))
            for sink, n in session.execute(select(Outbox.sink, func.count())
                                           .where(Outbox.status == OutboxStatus.DEAD)
                                           .group_by(Outbox.sink)):
                dead.add_metric([sink], n)
            workers = heartbeats.status(session)
        running = [w["last_beat_s"] for w in workers["workers"] if w["state"] != "stopped"]
        alive.add_metric([], workers["alive"])
        heartbeat.add_metric([], min(running) if running else -1)
        return [depth, oldest, dead, alive, heartbeat]


def _allowed() -> bool:
    settings = current_app.config["RUNTIME"].settings.metrics
    given = request.headers.get("Authorization", "")
    if settings.token and hmac.compare_digest(given.encode(), f"Bearer {settings.token}".encode()):
        return True
    return request.remote_addr in settings.allow


@bp.get("/metrics")
def metrics() -> Response:
    if not _allowed():
        abort(403)
    if MULTIPROC_ENV in os.environ:
        counted = CollectorRegistry()
        MultiProcessCollector(counted)
    else:
        counted = REGISTRY
    database = CollectorRegistry()
    database.register(DatabaseCollector(current_app.config["RUNTIME"].sessions))
    return Response(generate_latest(counted) + generate_latest(database), mimetype=CONTENT_TYPE_LATEST)


def start_timer() -> None:
    if request.method == "POST" and request.blueprint in WEBHOOKS:
        g.metrics_started = time.perf_counter()


def observe(response: Response) -> Response:
    started = g.pop("metrics_started", None)
    if started is not None:
        WEBHOOK_SECONDS.labels(request.blueprint).observe(time.perf_counter() - started)
    return response
