"""`/`: a small landing page for whoever opens the gateway in a browser — where the admin and the
operator pages are, and whether the service is whole (database, outbox worker, deliveries)."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template
from sqlalchemy import func, select

from storage import heartbeats
from storage.db import transaction
from storage.faults import describe, storage_unavailable
from storage.models import Case, Outbox
from storage.states import OutboxStatus

bp = Blueprint("landing", __name__)


def service_status(runtime) -> dict:
    """What the page shows; the database being away is a status, not an error page."""
    try:
        with transaction(runtime.sessions) as session:
            workers = heartbeats.status(session)
            pending = session.scalar(select(func.count(Outbox.id))
                                     .where(Outbox.status == OutboxStatus.PENDING))
            dead = session.scalar(select(func.count(Outbox.id))
                                  .where(Outbox.status == OutboxStatus.DEAD))
            cases = session.scalar(select(func.count(Case.id)))
    except Exception as exc:
        if not storage_unavailable(exc):
            raise
        return {"database": describe(exc), "database_ok": False}
    return {"database": "ok", "database_ok": True, "workers_alive": workers["alive"],
            "pending": pending, "dead": dead, "cases": cases}


@bp.get("/")
def index():
    runtime = current_app.config["RUNTIME"]
    status = service_status(runtime)
    return render_template("landing.html", city=runtime.settings.bot.city, status=status), \
        200 if status["database_ok"] else 503
