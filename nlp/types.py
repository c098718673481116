"""What a classification returns: one shape for the engine, the hotline path, the CLI and the admin UI."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Scored:
    label: str
    score: float


@dataclass
class Classification:
    label: str  # component:MMNN | event:MMNN | none
    kind: str | None
    major: str | None
    minor: str | None
    name: str  # zh-Hans name of the class ("" for none)
    name_en: str
    confidence: float  # calibrated probability that `label` is right
    urgent: bool  # emergency: tell the resident to call 110/119/120
    top: list[Scored]  # best first, at least 3 entries
    evidence: dict[str, Any] = field(default_factory=dict)
    place_text: str | None = None
    phones: list[str] = field(default_factory=list)
    language: str = "zh"
    keyword_version: int = 0

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["top"] = [{"label": s.label, "score": round(s.score, 4)} for s in self.top]
        data["confidence"] = round(self.confidence, 4)
        return data


def classification_from_json(data: dict[str, Any]) -> Classification:
    """Rebuild a stored classification (conversation slots keep it as JSON)."""
    fields = dict(data)
    fields["top"] = [Scored(t["label"], t["score"]) for t in fields.get("top", [])]
    return Classification(**fields)
