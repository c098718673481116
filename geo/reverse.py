"""Reverse geocoding from the gazetteer, so the bot can confirm a pin in words."""

from __future__ import annotations

import shapely
from shapely.geometry import Point

from geo.gazetteer import Gazetteer

# A pin this close to a landmark or 小区 is described by it.
PLACE_M = 120.0
# Roads this close are named ("淇滨大道/九州路附近").
ROAD_M = 250.0


class ReverseGeocoder:
    def __init__(self, gazetteer: Gazetteer):
        self.gaz = gazetteer
        self._roads = gazetteer.roads()
        self._points = [p for p in gazetteer.places if p.kind in ("landmark", "community")]
        self._road_tree = shapely.STRtree([r.geom for r in self._roads]) if self._roads else None
        self._point_tree = shapely.STRtree([p.geom for p in self._points]) if self._points else None

    def describe(self, lat: float, lon: float) -> str | None:
        x, y = self.gaz.projection.xy(lat, lon)
        here = Point(float(x), float(y))
        place = None
        if self._point_tree is not None:
            near = self._point_tree.query_nearest(here, max_distance=PLACE_M)
            if len(near):
                place = self._points[int(near[0])].name
        roads: list[str] = []
        if self._road_tree is not None:
            near = self._road_tree.query(here.buffer(ROAD_M), predicate="intersects")
            ranked = sorted((self._roads[int(i)].geom.distance(here), self._roads[int(i)].name)
                            for i in near)
            roads = list(dict.fromkeys(name for _, name in ranked))[:2]
        if place and roads:
            return f"{place}（{'/'.join(roads)}）附近"
        if place:
            return f"{place}附近"
        if roads:
            return f"{'/'.join(roads)}附近"
        return None
