"""The offline geocoder: a place phrase → a point, from the gazetteer alone.

Order of preference: a landmark or 小区 named in the phrase; the crossing of two named
roads; a house number interpolated along a road; a road alone (low confidence, so
the bot asks for a pin). Relative phrases (往东50米, 对面) are applied last.
"""

from __future__ import annotations

import re
from collections import defaultdict
from importlib import resources
from pathlib import Path

from shapely.geometry import Point
from shapely.ops import nearest_points

from geo.gazetteer import Gazetteer, Place
from geo.matching import Mention, NameMatcher
from geo.relations import Relation, extract
from geo.text import normalize
from geo.types import GeoResult

CONFIDENCE = {"landmark": 0.92, "community": 0.9, "intersection": 0.9, "crossing": 0.9,
              "number": 0.8, "near_roads": 0.6, "road": 0.3}
FUZZY_FACTOR = 0.85
WRONG_DISTRICT_FACTOR = 0.7
# Two named roads that do not cross but pass this close are taken as their meeting point.
NEAR_ROADS_M = 200.0
# The typo pass costs O(length × names); a place is named early in any real message.
FUZZY_MAX_CHARS = 400
_NUMBER_AFTER = re.compile(r"^\s*(\d{1,5})\s*号")
_NUMBER_BEFORE = re.compile(r"(?:no\.?\s*)?(\d{1,5})\s*,?\s*$")
_LATIN = re.compile(r"[a-z]")


def _other_cities(own: tuple[str, ...]) -> list[str]:
    text = resources.files("geo").joinpath("data", "cn_cities.txt").read_text("utf-8")
    names = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.startswith("#")]
    return [n for n in names if not any(n in o or o in n for o in own)]


class GazetteerGeocoder:
    provider = "gazetteer"

    def __init__(self, gazetteer: Gazetteer):
        self.gaz = gazetteer
        self.by_name: dict[str, list[Place]] = defaultdict(list)
        names: dict[str, list[str]] = defaultdict(list)
        for place in gazetteer.places:
            self.by_name[place.name].append(place)
            names[place.name].extend(place.names)
        self.names = NameMatcher(names)
        self.districts = NameMatcher({d: [d, *a] for d, a in gazetteer.districts.items()})
        foreign = [*_other_cities(gazetteer.city_names), *gazetteer.outside_names]
        self._foreign = re.compile(
            "(" + "|".join(map(re.escape, sorted(foreign, key=len, reverse=True))) + ")"
            r"(?=市|县|区|省|$|[^路街道巷大桥])"
        ) if foreign else None

    @classmethod
    def from_file(cls, path: Path) -> GazetteerGeocoder:
        return cls(Gazetteer.from_file(path))

    def geocode(self, text: str) -> GeoResult | None:
        norm = normalize(text)
        exact = self.names.find(norm, fuzzy=False)
        masked = _mask(norm, exact)
        if self._foreign and self._foreign.search(masked):
            return None
        rest, relation = extract(masked)
        hint = [m.key for m in self.districts.find(rest, fuzzy=False)]
        rest = _mask(rest, self.districts.find(rest, fuzzy=False))
        mentions = sorted(exact + self._fuzzy(rest), key=lambda m: m.start)
        if not mentions:
            return None
        found = self._resolve(norm, mentions, hint)
        if found is None:
            return None
        point, kind, matched, fuzzy, district = found
        confidence = CONFIDENCE[kind] * (FUZZY_FACTOR if fuzzy else 1.0)
        if hint and district and district not in hint:
            confidence *= WRONG_DISTRICT_FACTOR
        point, confidence, matched = self._apply(point, relation, confidence, matched)
        lat, lon = self.gaz.projection.latlon(point.x, point.y)
        return GeoResult(lat=lat, lon=lon, provider=self.provider, confidence=confidence,
                         matched=matched)

    def _fuzzy(self, rest: str) -> list[Mention]:
        return [m for m in self.names.find(rest[:FUZZY_MAX_CHARS], fuzzy=True) if m.score < 1.0]

    def _pick(self, name: str, kinds: tuple[str, ...], hint: list[str]) -> Place | None:
        places = [p for p in self.by_name[name] if p.kind in kinds]
        preferred = [p for p in places if p.district in hint]
        return (preferred or places or [None])[0]

    def _resolve(self, text: str, mentions: list[Mention], hint: list[str]):
        """(metric point, kind, matched words, fuzzy?, district) or None."""
        for m in mentions:
            place = self._pick(m.key, ("landmark", "community", "intersection"), hint)
            if place is not None:
                point = place.geom if place.geom.geom_type == "Point" else place.geom.centroid
                return point, place.kind, place.name, m.score < 1, place.district
        roads: list[tuple[Mention, list[Place]]] = []
        for m in mentions:
            places = [p for p in self.by_name[m.key] if p.kind == "road"]
            if places and all(m.key != r[0].key for r in roads):
                roads.append((m, places))
        for i in range(len(roads)):
            for j in range(i + 1, len(roads)):
                found = self._crossing(roads[i], roads[j], hint)
                if found:
                    return found
        if not roads:
            return None
        m, places = roads[0]
        road = next((p for p in places if p.district in hint), places[0])
        number = _house_number(text, m)
        if number is not None and road.numbers:
            first, last = road.numbers
            frac = (number - first) / (last - first) if last != first else 0.0
            kind = "number" if 0.0 <= frac <= 1.0 else "road"
            point = road.geom.interpolate(min(max(frac, 0.0), 1.0), normalized=True)
            return point, kind, f"{road.name}{number}号", m.score < 1, road.district
        return road.geom.interpolate(0.5, normalized=True), "road", road.name, m.score < 1, road.district

    def _crossing(self, a: tuple[Mention, list[Place]], b: tuple[Mention, list[Place]], hint):
        fuzzy = a[0].score < 1 or b[0].score < 1
        name_a, name_b = a[1][0].name, b[1][0].name
        matched = f"{name_a} × {name_b}"
        points = self.gaz.crossing(name_a, name_b)
        if points:
            district = next((p.district for p in a[1] if p.district in hint), a[1][0].district)
            best = min(points, key=lambda pt: min(r.geom.distance(pt) for r in a[1]
                                                  if r.district == district) if district else 0)
            return best, "crossing", matched, fuzzy, district
        for ra in a[1]:
            for rb in b[1]:
                if ra.geom.distance(rb.geom) <= NEAR_ROADS_M:
                    pa, pb = nearest_points(ra.geom, rb.geom)
                    mid = Point((pa.x + pb.x) / 2, (pa.y + pb.y) / 2)
                    return mid, "near_roads", matched, fuzzy, ra.district
        return None

    def _apply(self, point: Point, relation: Relation, confidence: float, matched: str):
        """Moves the point by the relation; words of the relation go into `matched`."""
        if relation.opposite:
            road = min(self.gaz.roads(), key=lambda r: r.geom.distance(point), default=None)
            if road is not None and 1.0 < road.geom.distance(point) < 300.0:
                on_road = road.geom.interpolate(road.geom.project(point))
                point = Point(2 * on_road.x - point.x, 2 * on_road.y - point.y)
        if relation.moves:
            dx, dy = relation.offset()
            point = Point(point.x + dx, point.y + dy)
            confidence -= 0.05
        if relation.vague:
            confidence -= 0.05
        if relation.text:
            matched = f"{matched} {relation.text.strip()}"
        return point, max(0.0, min(1.0, confidence)), matched


def _mask(text: str, mentions: list[Mention]) -> str:
    """Blanks matched names out (same length, so positions hold)."""
    chars = list(text)
    for m in mentions:
        chars[m.start:m.end] = "#" * (m.end - m.start)
    return "".join(chars)


def _house_number(text: str, mention: Mention) -> int | None:
    after = _NUMBER_AFTER.match(text[mention.end:])
    if after:
        return int(after.group(1))
    before = _NUMBER_BEFORE.search(text[: mention.start])
    if before and _LATIN.search(mention.alias):
        return int(before.group(1))
    return None
