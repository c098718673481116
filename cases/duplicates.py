"""Link a new report to an open case about the same thing (same label, close by, recent,
similar words), so every reporter hears the updates; and undo a wrong link."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import timedelta

from rapidfuzz import fuzz
from sqlalchemy import bindparam, delete, exists, select
from sqlalchemy.orm import Session, load_only

from cases.notices import message
from cases.status import OPEN_STATUSES
from categories import NONE_LABEL
from geo.coords import distance_m
from settings.typed import DuplicateSettings
from storage.models import Case, CaseEvent, CaseFollower

# Built once (every filing runs it). Only what is compared and linked is loaded (a case row
# carries its evidence), the best candidate is then at hand without another query, and whether
# the new reporter already follows a candidate comes along.
_FOLLOWED = exists().where(CaseFollower.case_id == Case.id,
                           CaseFollower.reporter_id == bindparam("reporter"))
_CANDIDATES = select(Case, _FOLLOWED.label("followed")).options(
    load_only(Case.id, Case.number, Case.reporter_id, Case.lat, Case.lon, Case.text),
).where(
    Case.label == bindparam("label"), Case.id != bindparam("case"),
    Case.duplicate_of_id.is_(None), Case.status.in_(OPEN_STATUSES),
    Case.created_at >= bindparam("since"),
    Case.lat.between(bindparam("south"), bindparam("north")),
    Case.lon.between(bindparam("west"), bindparam("east")),
)


@dataclass(frozen=True)
class Original:
    case: Case
    followed: bool  # by the reporter of the duplicate


def find_original(session: Session, case: Case, settings: DuplicateSettings) -> Original | None:
    """The best open case this one repeats, or None."""
    if case.label == NONE_LABEL or case.lat is None or case.lon is None:
        return None
    dlat = settings.distance_m / 111_320
    dlon = dlat / max(math.cos(math.radians(case.lat)), 0.01)
    candidates = session.execute(_CANDIDATES, {
        "label": case.label, "case": case.id, "reporter": case.reporter_id,
        "since": case.created_at - timedelta(hours=settings.window_hours),
        "south": case.lat - dlat, "north": case.lat + dlat,
        "west": case.lon - dlon, "east": case.lon + dlon,
    }).all()
    best: tuple[float, float, Original] | None = None
    for other, followed in candidates:
        meters = distance_m(case.lat, case.lon, other.lat, other.lon)
        similarity = fuzz.WRatio(case.text, other.text)
        if meters > settings.distance_m or similarity < settings.min_text_similarity:
            continue
        if best is None or (similarity, -meters) > (best[0], -best[1]):
            best = (similarity, meters, Original(other, followed))
    return best[2] if best else None


def link(session: Session, case: Case, found: Original, actor: str = "system") -> None:
    """Written at the next flush, with the rest of the filing (nothing here needs an id)."""
    original = found.case
    if (case.reporter_id is not None and case.reporter_id != original.reporter_id
            and not found.followed):
        session.add(CaseFollower(case_id=original.id, reporter_id=case.reporter_id,
                                 source_case_id=case.id))
    case.duplicate_of = original
    case.events.append(CaseEvent(status="linked", actor=actor, data={"original": original.number}))
    # Through the backref, so the original's history (one row per duplicate) is not loaded.
    session.add(CaseEvent(case=original, status="linked", actor=actor,
                          data={"duplicate": case.number}))


def unlink(session: Session, case: Case, actor: str) -> Case:
    """Undo a wrong link; the resident is told their case is handled on its own. Returns the
    case it was linked to."""
    original = case.duplicate_of
    if original is None:
        raise ValueError(f"case {case.number} is not linked to another case")
    session.execute(delete(CaseFollower).where(CaseFollower.source_case_id == case.id))
    case.duplicate_of = None
    case.events.append(CaseEvent(status="unlinked", actor=actor, data={"original": original.number}))
    original.events.append(CaseEvent(status="unlinked", actor=actor, data={"duplicate": case.number}))
    session.flush()
    if case.reporter is not None:
        message(session, case, case.reporter, key="case_unlinked",
                dedupe=f"notify:{case.events[-1].id}", original=original.number)
    return original


def duplicate_listener(settings: DuplicateSettings):
    def link_if_duplicate(session: Session, case: Case) -> None:
        original = find_original(session, case, settings)
        if original is not None:
            link(session, case, original)

    return link_if_duplicate
