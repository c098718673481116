"""What every platform sink is: a sender of outbox rows with an optional step after success.

A sink gets the runtime and the row and returns a small result dict (stored on the row) or None;
it signals failure with the exceptions of `cases.outbox` (retry, dead-letter, unreachable).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

import httpx
from sqlalchemy.orm import Session

from cases.outbox import PermanentError, RetryableError
from storage.models import Outbox


class Sink(ABC):
    """One way to reach the city platform, named by the `Outbox.sink` of its rows."""

    name: ClassVar[str]

    @abstractmethod
    def __call__(self, runtime: Any, row: Outbox) -> dict | None:
        """Deliver the row once (the worker retries by the raised exception's kind)."""

    def delivered(self, session: Session, row: Outbox, result: dict | None) -> None:
        """In the transaction that records the success: keep what the platform answered
        (nothing by default)."""
        return None


def raise_for_status(response: httpx.Response, what: str) -> None:
    """2xx (and 409 "already have it") succeed; 408/429/5xx retry; other 4xx are permanent."""
    code = response.status_code
    if 200 <= code < 300 or code == 409:
        return
    detail = f"{what} answered HTTP {code}: {response.text[:200]}"
    if code in (408, 425, 429) or code >= 500:
        raise RetryableError(detail)
    raise PermanentError(detail)
