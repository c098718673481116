"""The city on a web map: grid cells, roads and landmarks as GeoJSON in the basemap's datum.

Basemaps of Chinese providers are drawn in GCJ-02 (AutoNavi, Tencent) or BD-09 (Baidu), while
gridintake keeps everything in WGS-84; a point drawn unshifted on such a map lands 300–600 m
off. Every coordinate leaving here is converted to the basemap's datum once, on the server.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import shapely
from shapely.geometry import mapping
from shapely.geometry.base import BaseGeometry

from geo.coords import CRS, convert
from geo.gazetteer import Gazetteer
from geo.grid import GridIndex, SquareGrid

MAX_CELLS = 3000  # cells drawn at once; a wider view asks to zoom in
Bbox = tuple[float, float, float, float]  # south, west, north, east (WGS-84)


def parse_bbox(text: str | None) -> Bbox | None:
    """``south,west,north,east`` as a map sends it; None when absent or not four numbers."""
    try:
        s, w, n, e = (float(v) for v in (text or "").split(","))
    except ValueError:
        return None
    if not (-90 <= s < n <= 90 and -180 <= w < e <= 180):
        return None
    return s, w, n, e


def shift(geom: BaseGeometry, crs: str) -> BaseGeometry:
    """A WGS-84 lon/lat geometry in the datum ``crs``."""
    if crs == "wgs84":
        return geom
    if crs not in CRS:
        raise ValueError(f"unknown datum {crs!r}: use one of {', '.join(CRS)}")

    def move(coords: np.ndarray) -> np.ndarray:
        return np.array([convert(lat, lon, "wgs84", crs)[::-1] for lon, lat in coords.tolist()])

    return shapely.transform(geom, move)


def point(lat: float, lon: float, crs: str) -> tuple[float, float]:
    """A WGS-84 point as (lat, lon) in ``crs``."""
    return (lat, lon) if crs == "wgs84" else convert(lat, lon, "wgs84", crs)


def _feature(geom: BaseGeometry, crs: str, properties: dict[str, Any]) -> dict[str, Any]:
    return {"type": "Feature", "geometry": mapping(shift(geom, crs)), "properties": properties}


def cells_geojson(grid: GridIndex | SquareGrid, bbox: Bbox, crs: str = "wgs84",
                  count: Callable[[list[str]], Mapping[str, int]] | None = None) -> dict[str, Any]:
    """The cells in view with their names and case counts (``count`` maps the codes in view to
    their counts); ``too_many`` instead of features when the view holds over `MAX_CELLS`."""
    found = grid.within(bbox, MAX_CELLS)
    if found is None:
        return {"type": "FeatureCollection", "features": [], "too_many": True}
    counts = count([cell.code for cell, _ in found]) if count and found else {}
    return {"type": "FeatureCollection", "too_many": False, "features": [
        _feature(polygon, crs, {"code": cell.code, "name": cell.name, "district": cell.district,
                                "street": cell.street, "community": cell.community,
                                "cases": int(counts.get(cell.code, 0))})
        for cell, polygon in found]}


def gazetteer_geojson(gazetteer: Gazetteer, crs: str = "wgs84") -> dict[str, Any]:
    """Roads as lines, landmarks and 小区 as points: a readable city with no basemap at all."""
    features = []
    for place in gazetteer.places:
        if place.kind not in ("road", "landmark", "community"):
            continue
        geom = gazetteer.projection.to_lonlat(place.geom)
        if place.kind != "road":
            geom = geom.representative_point()
        features.append(_feature(geom, crs, {"kind": place.kind, "name": place.name,
                                             "district": place.district}))
    return {"type": "FeatureCollection", "features": features}
