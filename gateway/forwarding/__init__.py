"""Forwarding and the status loop: cases reach the city platform once, status comes back, and
residents hear about progress, closure, duplicates and overdue cases.

Every delivery is an outbox row written in the transaction of its cause; `worker` delivers them.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from gateway.forwarding.duplicates import DuplicateSettings, duplicate_listener
from gateway.forwarding.notify import late_replies
from gateway.forwarding.platform import Platform
from storage.models import Case


def platform_for(runtime: Any) -> Platform:
    return Platform(runtime.config, runtime.tree)


def case_listeners(runtime: Any) -> list:
    """Run inside the transaction that files a case: link duplicates first (so the forwarded
    document names the original), then write the deliveries to the platform."""
    return [duplicate_listener(DuplicateSettings.from_config(runtime.config)),
            platform_for(runtime).forward_case]


def rating_listeners(runtime: Any) -> list:
    """For `engine.rating_listeners`: the resident's rating goes back to the platform."""
    platform = platform_for(runtime)
    threshold = int(runtime.config.get("forwarding", "not_satisfied_below", 3))

    def forward_rating(session: Session, case: Case) -> None:
        rated = next((e for e in reversed(case.events) if e.status == "rated"), None)
        key = f"{case.number}:{rated.id if rated else case.rating}"
        platform.notice(session, case, "rated", key=key, data={
            "rating": case.rating, "comment": case.rating_comment,
            "not_satisfied": case.rating is not None and case.rating < threshold,
        })

    return [forward_rating]


def retry_listeners(runtime: Any) -> list:
    """For `engine.retry_listeners`: replies to a message processed late go out via the outbox."""
    return [late_replies]
