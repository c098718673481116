"""Forwarding and the status loop: cases reach the city platform once, status comes back, and
residents hear about progress, closure, duplicates and overdue cases.

Every delivery is an outbox row written in the transaction of its cause; `worker` delivers them.
"""

from __future__ import annotations

from typing import Any

from cases.duplicates import duplicate_listener
from cases.notices import late_replies
from cases.platform import Platform


def platform_for(runtime: Any) -> Platform:
    return Platform(runtime.settings.platform, runtime.tree, runtime.secret_key)


def case_listeners(runtime: Any) -> list:
    """Run inside the transaction that files a case: link duplicates first (so the forwarded
    document names the original), then write the deliveries to the platform."""
    return [duplicate_listener(runtime.settings.duplicates),
            platform_for(runtime).forward_case]


def rating_listeners(runtime: Any) -> list:
    """For `engine.rating_listeners`: the resident's rating goes back to the platform."""
    return [platform_for(runtime).forward_rating]


def reopen_listeners(runtime: Any) -> list:
    """For `engine.reopen_listeners`: a resident's "not fixed" goes back to the platform."""
    return [platform_for(runtime).forward_reopen]


def retry_listeners(runtime: Any) -> list:
    """For `engine.retry_listeners`: replies to a message processed late go out via the outbox."""
    return [late_replies]
