"""What the city platform is sent: new cases (webhook and/or Open311) and notices (ratings,
overdue cases, links undone). Only the sinks that are configured get rows."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cases.document import case_document
from cases.media_links import signed_media_url
from cases.open311 import request_fields
from cases.outbox import enqueue
from categories import NONE_LABEL, CategoryTree
from settings.typed import PlatformSettings
from storage.models import Case, CaseEvent, Outbox
from storage.states import OutboxStatus


class Platform:
    def __init__(self, settings: PlatformSettings, tree: Callable[[], CategoryTree],
                 media_secret: bytes = b"") -> None:
        self.settings = settings
        self.tree = tree
        self.media_secret = media_secret

    @property
    def webhook_enabled(self) -> bool:
        return bool(self.settings.webhook_url)

    @property
    def open311_enabled(self) -> bool:
        return bool(self.settings.open311_endpoint)

    @property
    def noop_enabled(self) -> bool:
        return self.settings.noop

    @property
    def overdue_notice(self) -> bool:
        return self.settings.overdue_notice

    def photo_url(self, digest: str) -> str:
        """A signed link valid for `media_url_ttl_hours`: long enough for the outbox's retries
        and the platform's fetch, useless to anyone who finds it later."""
        return signed_media_url(self.settings.public_url, self.media_secret, digest,
                                self.settings.media_url_ttl_hours * 3600)

    def document(self, case: Case) -> dict[str, Any]:
        return case_document(case, self.tree(),
                             self.photo_url if self.settings.public_url and self.media_secret else None,
                             mask=self.settings.mask_personal_data)

    def forward_case(self, session: Session, case: Case) -> list[Outbox]:
        """The case listener: one row per configured sink, in the transaction that files the case."""
        rows = []
        document = self.document(case) if self.webhook_enabled or self.open311_enabled else None
        if self.webhook_enabled:
            rows.append(enqueue(session, sink="webhook", key=f"webhook:case:{case.number}",
                                case_id=case.id, payload={"type": "case.created", "case": document}))
        if self.open311_enabled and case.label != NONE_LABEL:
            rows.append(enqueue(session, sink="open311", key=f"open311:case:{case.number}",
                                case_id=case.id, payload={"fields": request_fields(document)}))
        if self.noop_enabled:
            rows.append(enqueue(session, sink="noop", key=f"noop:case:{case.number}",
                                case_id=case.id, payload={"type": "case.created",
                                                          "number": case.number}))
        return rows

    def notice(self, session: Session, case: Case, kind: str, key: str,
               data: dict[str, Any]) -> Outbox | None:
        """A short signed notice about an existing case (webhook only: Open311 has no such call)."""
        if not self.webhook_enabled:
            return None
        payload = {"type": f"case.{kind}", "number": case.number, "external_id": case.external_id,
                   "data": data}
        return enqueue(session, sink="webhook", key=f"webhook:{kind}:{key}", case_id=case.id,
                       payload=payload)

    def forward_rating(self, session: Session, case: Case) -> Outbox | None:
        """The rating listener: the resident's rating goes back, flagged when not satisfied."""
        rated = next((e for e in reversed(case.events) if e.status == "rated"), None)
        key = f"{case.number}:{rated.id if rated else case.rating}"
        return self.notice(session, case, "rated", key=key, data={
            "rating": case.rating, "comment": case.rating_comment,
            "not_satisfied": case.rating is not None
            and case.rating < self.settings.not_satisfied_below,
        })

    def forward_reopen(self, session: Session, case: Case, event: CaseEvent) -> Outbox | None:
        """The reopen listener: a resident's "not fixed", with their words, goes back."""
        return self.notice(session, case, "reopened", key=f"{case.number}:{event.id}",
                           data={"reason": event.note, "by": event.actor})

    def case_changed(self, session: Session, case: Case, key: str, reason: str) -> list[Outbox]:
        """The case changed after filing (e.g. relabelled). A creation row no worker has touched
        yet is rewritten, so the platform first hears the right version; once a creation was
        attempted, the webhook gets a signed "case.updated" notice carrying the whole document
        (a receiver that missed the creation can upsert from it). Open311 GeoReport v2 has no
        update call, so an Open311 request already sent keeps its first service_code."""
        document = self.document(case)
        untouched = {row.sink: row for row in session.scalars(
            select(Outbox).where(Outbox.case_id == case.id, Outbox.attempts == 0,
                                 Outbox.status == OutboxStatus.PENDING, Outbox.locked_by.is_(None),
                                 Outbox.idempotency_key.in_([f"webhook:case:{case.number}",
                                                             f"open311:case:{case.number}"]))
            .with_for_update(skip_locked=True))}
        if "webhook" in untouched:
            untouched["webhook"].payload = {"type": "case.created", "case": document}
        if "open311" in untouched:
            untouched["open311"].payload = {"fields": request_fields(document)}
        forwarded = session.scalar(select(Outbox.id).where(
            Outbox.idempotency_key == f"webhook:case:{case.number}").limit(1)) is not None
        if "webhook" in untouched or not forwarded:
            return list(untouched.values())
        row = self.notice(session, case, "updated", key=key,
                          data={"reason": reason, "case": document})
        return [*untouched.values(), *([row] if row else [])]
