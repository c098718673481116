"""Results of the geo layer. Every point here is WGS-84."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class GridCell:
    code: str  # GB/T 30428.1: county 6 + street 3 + community 3 + serial (2 or 3)
    district: str
    street: str
    community: str
    name: str = ""
    chief: str = ""
    chief_phone: str = ""
    bodies: dict[str, str] = field(default_factory=dict)  # responsible bodies by duty

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class GeoResult:
    lat: float
    lon: float
    provider: str  # gazetteer | nominatim | baidu | pin | exif
    confidence: float  # 0..1
    matched: str  # what was matched, in words ("淇滨大道 × 九州路")
    cell: GridCell | None = None  # None: outside the service area
    address: str | None = None  # a short description of the place, for confirmations

    def to_json(self) -> dict[str, Any]:
        cell = self.cell
        return {
            "lat": round(self.lat, 7),
            "lon": round(self.lon, 7),
            "grid_code": cell.code if cell else None,
            "district": cell.district if cell else None,
            "street": cell.street if cell else None,
            "community": cell.community if cell else None,
            "provider": self.provider,
            "confidence": round(self.confidence, 3),
            "matched": self.matched,
            "address": self.address,
        }


def geo_result_from_json(data: dict[str, Any]) -> GeoResult:
    """Rebuild a stored result (conversation slots keep it as ``to_json`` plus ``cell``)."""
    cell = data.get("cell")
    return GeoResult(
        lat=data["lat"], lon=data["lon"], provider=data["provider"],
        confidence=data["confidence"], matched=data["matched"],
        cell=GridCell(**cell) if cell else None, address=data.get("address"),
    )


def geo_result_to_slots(result: GeoResult) -> dict[str, Any]:
    data = result.to_json()
    data["cell"] = result.cell.to_json() if result.cell else None
    return data
