"""Turn a description (and maybe a point and a photo) into a stored case; shared by every channel."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from categories import NONE_LABEL, CategoryTree
from geo.types import GeoResult
from nlp.types import Classification
from storage.models import Attachment, Case, CaseEvent, Reporter, utcnow
from storage.states import CaseStatus

CITY_TZ = ZoneInfo("Asia/Shanghai")


class GeoService(Protocol):
    def geocode(self, text: str) -> GeoResult | None: ...
    def locate(self, lat: float, lon: float, crs: str = "wgs84") -> GeoResult: ...


CaseListener = Callable[[Session, Case], None]


def case_number(case_id: int, when) -> str:
    return f"GI-{when.astimezone(CITY_TZ):%Y%m%d}-{case_id:06d}"


@dataclass
class Intake:
    """Classify, place and file. Listeners (forwarding, duplicate linking) run in the same
    transaction as the new case, so a case and its deliveries are stored together or not at all."""

    classify: Callable[[str], Classification]
    tree: Callable[[], CategoryTree]
    geo: GeoService
    listeners: list[CaseListener] = field(default_factory=list)
    review_below: float = 0.5  # calibrated confidence below which a case is reviewed

    def place_from_text(self, text: str, classification: Classification) -> GeoResult | None:
        for query in dict.fromkeys(q for q in (classification.place_text, text) if q):
            result = self.geo.geocode(query)
            if result is not None:
                return result
        return None

    def file_case(
        self,
        session: Session,
        *,
        text: str,
        classification: Classification,
        place: GeoResult | None,
        channel: str,
        reporter: Reporter | None = None,
        language: str = "zh",
        attachments: list[Attachment] = (),
        contact_phone: str | None = None,
        place_text: str | None = None,
        actor: str = "resident",
    ) -> Case:
        category = self.tree().get(classification.label)
        now = utcnow()
        located = place is not None and place.cell is not None
        case = Case(
            label=classification.label,
            kind=classification.kind,
            major=classification.major,
            minor=classification.minor,
            category_name=category.name_zh if category else "",
            confidence=classification.confidence,
            urgent=classification.urgent,
            text=text,
            place_text=place_text or classification.place_text or (place.matched if place else None),
            channel=channel,
            language=language,
            reporter=reporter,
            contact_phone=contact_phone or (classification.phones[0] if classification.phones else None),
            evidence={
                "classification": classification.to_json(),
                "geo": place.to_json() if place else None,
            },
            # a label the active tree does not know (no class in its edition) goes to review too
            needs_review=classification.label == NONE_LABEL or category is None
            or classification.confidence < self.review_below,
            corrected="override" in classification.evidence,
            status=CaseStatus.ACCEPTED if located else CaseStatus.NEEDS_LOCATION,
            created_at=now,
        )
        # Initialised with the case, so appending never loads it. Its first event is added after
        # the insert, and goes out in one statement with what the listeners add.
        case.events = []
        # In the collection, not only by case_id: the platform document lists the photos.
        case.attachments = list(attachments)
        if place is not None:
            case.lat, case.lon, case.location_source = place.lat, place.lon, place.provider
            if place.cell is not None:
                case.grid_code = place.cell.code
                case.district = place.cell.district
                case.street = place.cell.street
                case.community = place.cell.community
        if category and category.time_limit_hours:
            case.due_at = now + timedelta(hours=category.time_limit_hours)
        session.add(case)
        session.flush()
        case.number = case_number(case.id, now)
        case.events.append(CaseEvent(status=case.status, actor=actor, created_at=now))
        # The listeners' queries need nothing unflushed, so the number and
        # what the listeners add reach the database in one flush (at commit), not one each.
        with session.no_autoflush:
            for listener in self.listeners:
                listener(session, case)
        return case
