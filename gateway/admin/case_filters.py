"""The case list's filters as query parameters (a filtered view is a link to share), turned
into SQL conditions; the list, its pages and its CSV export all use the same ``CaseFilter``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from datetime import date, datetime, time, timedelta

from sqlalchemy import ColumnElement, exists, or_, select

from cases.filing import CITY_TZ
from storage.models import Attachment, Case
from storage.states import CaseStatus

MAX_TEXT = 100
RATINGS = ("1", "2", "3", "4", "5", "low", "none")  # low: 1–2 stars; none: not rated


class BadFilter(ValueError):
    """A query parameter that makes no sense (answered 400 with this message)."""


@dataclass(frozen=True)
class CaseFilter:
    q: str = ""
    grid: str = ""
    district: str = ""
    street: str = ""
    community: str = ""
    status: str = ""
    label: str = ""  # a class (component:0101) or a major class (component:01)
    channel: str = ""
    start: str = ""  # `from`, a day in the city's time zone
    end: str = ""  # `to`, inclusive
    overdue: str = ""  # "1"
    photo: str = ""  # "1": with a photo, "0": without
    rating: str = ""

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> CaseFilter:
        """Read and check the parameters; `from`/`to` are keywords in Python, hence start/end."""
        names = {f.name: f.name for f in fields(cls)} | {"start": "from", "end": "to"}
        values = {attr: str(args.get(param, "")).strip()[:MAX_TEXT] for attr, param in names.items()}
        made = cls(**values)
        made._check()
        return made

    def _check(self) -> None:
        if self.status and self.status not in {s.value for s in CaseStatus}:
            raise BadFilter(f"未知状态 unknown status {self.status!r}")
        if self.rating and self.rating not in RATINGS:
            raise BadFilter(f"评价只能是 rating must be one of {', '.join(RATINGS)}")
        for flag, name in ((self.overdue, "overdue"), (self.photo, "photo")):
            if flag not in ("", "0", "1"):
                raise BadFilter(f"{name} 只能是 must be 0 or 1")
        first, last = _day(self.start, "from"), _day(self.end, "to")
        if first and last and first > last:
            raise BadFilter("开始日期晚于结束日期 (from is after to)")

    def params(self, **changes: str) -> dict[str, str]:
        """The non-empty parameters as a query string dict (for page and export links)."""
        data = asdict(self) | changes
        data["from"], data["to"] = data.pop("start"), data.pop("end")
        return {k: v for k, v in data.items() if v}

    def active(self) -> bool:
        return bool(self.params())

    def conditions(self) -> list[ColumnElement[bool]]:
        out: list[ColumnElement[bool]] = []
        if self.q:
            like = f"%{self.q}%"
            out.append(or_(Case.number.like(like), Case.contact_phone.like(like), Case.text.like(like),
                           Case.place_text.like(like)))
        for column, value in ((Case.grid_code, self.grid), (Case.district, self.district),
                              (Case.street, self.street), (Case.community, self.community),
                              (Case.status, self.status), (Case.channel, self.channel)):
            if value:
                out.append(column == value)
        if self.label:
            out.append(or_(Case.label == self.label, Case.label.like(f"{self.label}%")))
        first, last = _day(self.start, "from"), _day(self.end, "to")
        if first:
            out.append(Case.created_at >= _city_midnight(first))
        if last:
            out.append(Case.created_at < _city_midnight(last + timedelta(days=1)))
        if self.overdue:
            out.append(Case.overdue.is_(self.overdue == "1"))
        if self.photo:
            has = exists(select(Attachment.id).where(Attachment.case_id == Case.id))
            out.append(has if self.photo == "1" else ~has)
        if self.rating == "none":
            out.append(Case.rating.is_(None))
        elif self.rating == "low":
            out.append(Case.rating <= 2)
        elif self.rating:
            out.append(Case.rating == int(self.rating))
        return out


def _day(text: str, name: str) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise BadFilter(f"{name} 应为日期 must be a date like 2026-03-01") from None


def _city_midnight(day: date) -> datetime:
    return datetime.combine(day, time(), CITY_TZ)
