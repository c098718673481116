"""Checks on a grid GeoJSON before it becomes the city's grid: one problem per finding.

Grid import must be all-or-nothing, so every problem is collected (not just the first)
and reported with the feature it concerns.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import shapely
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry
from shapely.validation import explain_validity

from geo.projection import LocalProjection
from geo.types import GridCell

# Overlaps and holes smaller than this are rounding noise of shared edges, not problems.
AREA_TOLERANCE_M2 = 1.0
NAME_FIELDS = ("district", "street", "community")


@dataclass
class Problem:
    feature: int | None  # index in the FeatureCollection; None for area-wide findings
    code: str | None
    message: str

    def to_json(self) -> dict[str, Any]:
        return {"feature": self.feature, "code": self.code, "problem": self.message}


def code_pattern(serial_digits: int) -> re.Pattern[str]:
    """GB/T 30428.1 unit grid code: county 6 + street 3 + community 3 + serial."""
    return re.compile(rf"\d{{{12 + serial_digits}}}")


def _cell(props: dict[str, Any], code: str) -> GridCell:
    bodies = props.get("bodies") or {}
    return GridCell(
        code=code,
        district=str(props.get("district", "")),
        street=str(props.get("street", "")),
        community=str(props.get("community", "")),
        name=str(props.get("name", "")),
        chief=str(props.get("chief", "")),
        chief_phone=str(props.get("chief_phone", "")),
        bodies={str(k): str(v) for k, v in bodies.items()} if isinstance(bodies, dict) else {},
    )


def parse_features(
    data: Any, serial_digits: int
) -> tuple[list[GridCell], list[BaseGeometry], list[Problem]]:
    """Cells and WGS-84 polygons of every feature with a usable geometry, plus all problems."""
    problems: list[Problem] = []
    if not isinstance(data, dict) or data.get("type") != "FeatureCollection":
        return [], [], [Problem(None, None, "not a GeoJSON FeatureCollection")]
    features = data.get("features")
    if not isinstance(features, list) or not features:
        return [], [], [Problem(None, None, "the FeatureCollection has no features")]
    pattern = code_pattern(serial_digits)
    cells: list[GridCell] = []
    polygons: list[BaseGeometry] = []
    seen: dict[str, int] = {}
    for i, feature in enumerate(features):
        props = (feature or {}).get("properties") or {}
        code = str(props.get("code") or props.get("grid_code") or "").strip()
        if not pattern.fullmatch(code):
            problems.append(Problem(i, code or None, f"grid code must be {12 + serial_digits} digits"))
        elif code in seen:
            problems.append(Problem(i, code, f"duplicate grid code (also feature {seen[code]})"))
        else:
            seen[code] = i
        for name in NAME_FIELDS:
            if not str(props.get(name, "")).strip():
                problems.append(Problem(i, code or None, f"missing property {name!r}"))
        try:
            geom = shape(feature["geometry"])
        except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
            problems.append(Problem(i, code or None, f"unreadable geometry: {exc}"))
            continue
        if geom.geom_type not in ("Polygon", "MultiPolygon"):
            problems.append(Problem(i, code or None, f"geometry is a {geom.geom_type}, not a polygon"))
            continue
        if geom.is_empty or not geom.is_valid:
            problems.append(Problem(i, code or None, f"invalid geometry: {explain_validity(geom)}"))
            continue
        minx, miny, maxx, maxy = geom.bounds
        if not (-180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90):
            problems.append(Problem(i, code or None, "coordinates are not longitude/latitude"))
            continue
        # Kept even when its properties are wrong, so overlaps and gaps are still checked.
        cells.append(_cell(props, code))
        polygons.append(geom)
    return cells, polygons, problems


def check_topology(cells: list[GridCell], polygons: list[BaseGeometry]) -> list[Problem]:
    """Overlapping cells and holes inside the covered area (both in m² on a local plane)."""
    if not polygons:
        return []
    proj = LocalProjection.around(shapely.total_bounds(polygons))
    metric = [proj.to_metric(p) for p in polygons]
    tree = shapely.STRtree(metric)
    problems: list[Problem] = []
    left, right = tree.query(metric, predicate="intersects")
    for a, b in zip(left.tolist(), right.tolist(), strict=True):
        if a >= b:
            continue
        area = shapely.intersection(metric[a], metric[b]).area
        if area > AREA_TOLERANCE_M2:
            problems.append(
                Problem(a, cells[a].code, f"overlaps {cells[b].code} by {area:.0f} m²")
            )
    # Snapped to 1 mm so that edges shared up to floating-point noise join.
    union = shapely.union_all(metric, grid_size=0.001)
    parts = getattr(union, "geoms", [union])
    for part in parts:
        for ring in part.interiors:
            hole = shapely.Polygon(ring)
            if hole.area <= AREA_TOLERANCE_M2:
                continue
            lat, lon = proj.latlon(*hole.representative_point().coords[0])
            near = sorted(cells[i].code for i in tree.query(hole.buffer(1.0), predicate="intersects"))
            problems.append(
                Problem(
                    None,
                    None,
                    f"gap of {hole.area:.0f} m² at {lat:.6f},{lon:.6f} between {', '.join(near[:6])}",
                )
            )
    return problems
