"""The offline gazetteer: roads as lines, landmarks and 小区 as points, intersections.

Everything is kept twice: WGS-84 for answers and a local metric plane for distances,
interpolation and offsets.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import shapely
from shapely.geometry import Point, shape
from shapely.geometry.base import BaseGeometry

from geo.projection import LocalProjection
from geo.text import normalize

KINDS = ("road", "landmark", "community", "intersection")
DEMO_GAZETTEER = "hebi_gazetteer.geojson"


class GazetteerError(Exception):
    """The gazetteer file cannot be used; the message names the feature."""


@dataclass(frozen=True, eq=False)
class Place:
    kind: str  # road | landmark | community | intersection
    name: str
    aliases: tuple[str, ...]
    district: str
    geom: BaseGeometry  # metric plane
    numbers: tuple[int, int] | None = None  # house numbers at the first and last vertex
    roads: tuple[str, str] | None = None  # for a listed intersection

    @property
    def names(self) -> tuple[str, ...]:
        return (self.name, *self.aliases)


@dataclass
class Gazetteer:
    places: list[Place]
    projection: LocalProjection
    city_names: tuple[str, ...] = ()
    districts: dict[str, tuple[str, ...]] = field(default_factory=dict)
    outside_names: tuple[str, ...] = ()  # places of the city that are outside the service area
    # frozenset of two road names → crossing points (metric), computed or listed
    crossings: dict[frozenset[str], list[Point]] = field(default_factory=dict)

    @classmethod
    def from_geojson(cls, data: dict[str, Any]) -> Gazetteer:
        features = data.get("features") if isinstance(data, dict) else None
        if not isinstance(features, list) or not features:
            raise GazetteerError("the gazetteer is not a GeoJSON FeatureCollection with features")
        raw: list[tuple[dict[str, Any], BaseGeometry]] = []
        for i, feature in enumerate(features):
            props = feature.get("properties") or {}
            try:
                geom = shape(feature["geometry"])
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                raise GazetteerError(f"gazetteer feature {i}: unreadable geometry ({exc})") from None
            kind, name = props.get("kind"), str(props.get("name", "")).strip()
            if kind not in KINDS or not name:
                raise GazetteerError(f"gazetteer feature {i}: needs a name and a kind in {KINDS}")
            raw.append((props, geom))
        projection = LocalProjection.around(shapely.total_bounds([g for _, g in raw]))
        places = []
        for props, geom in raw:
            numbers = props.get("numbers")
            roads = props.get("roads")
            places.append(Place(
                kind=props["kind"],
                name=str(props["name"]).strip(),
                aliases=tuple(str(a) for a in props.get("aliases") or ()),
                district=str(props.get("district", "")),
                geom=projection.to_metric(geom),
                numbers=(int(numbers[0]), int(numbers[1])) if numbers else None,
                roads=(str(roads[0]), str(roads[1])) if roads else None,
            ))
        meta = data.get("metadata") or {}
        gaz = cls(
            places=places,
            projection=projection,
            city_names=tuple(normalize(n) for n in meta.get("city_names", ())),
            districts={d: tuple(a) for d, a in (meta.get("districts") or {}).items()},
            outside_names=tuple(normalize(n) for n in meta.get("outside_names", ())),
        )
        gaz._index_crossings()
        return gaz

    @classmethod
    def from_file(cls, path: Path) -> Gazetteer:
        try:
            data = json.loads(Path(path).read_text("utf-8"))
        except (OSError, ValueError) as exc:
            raise GazetteerError(f"cannot read gazetteer {path}: {exc}") from None
        return cls.from_geojson(data)

    def _index_crossings(self) -> None:
        """Intersections: listed ones first, then every pair of road lines that cross."""
        for place in self.places:
            if place.kind == "intersection" and place.roads:
                self.crossings.setdefault(frozenset(place.roads), []).append(place.geom)
        roads = self.roads()
        tree = shapely.STRtree([r.geom for r in roads])
        left, right = tree.query([r.geom for r in roads], predicate="intersects")
        for a, b in zip(left.tolist(), right.tolist(), strict=True):
            ra, rb = roads[a], roads[b]
            if a >= b or ra.name == rb.name:
                continue
            key = frozenset((ra.name, rb.name))
            if key in self.crossings and any(p.distance(ra.geom) < 1 for p in self.crossings[key]):
                continue
            hit = ra.geom.intersection(rb.geom)
            points = [g for g in getattr(hit, "geoms", [hit]) if g.geom_type == "Point"]
            self.crossings.setdefault(key, []).extend(points)

    def roads(self) -> list[Place]:
        return [p for p in self.places if p.kind == "road"]

    def names(self) -> list[str]:
        """Every name and alias, in file order, without repeats."""
        seen: dict[str, None] = {}
        for place in self.places:
            for name in place.names:
                seen.setdefault(name, None)
        for aliases in self.districts.values():
            for name in aliases:
                seen.setdefault(name, None)
        return list(seen)

    def crossing(self, road_a: str, road_b: str) -> list[Point]:
        return self.crossings.get(frozenset((road_a, road_b)), [])



def demo_path() -> Path:
    return Path(str(resources.files("geo").joinpath("data", DEMO_GAZETTEER)))


@lru_cache(maxsize=4)
def load_gazetteer(path: str) -> Gazetteer:
    return Gazetteer.from_file(Path(path))
