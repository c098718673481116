"""Point → unit grid cell, single or vectorized, with snapping to the nearest cell."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from functools import cached_property
from pathlib import Path

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from geo.projection import LocalProjection
from geo.types import GridCell
from geo.validate import parse_features

Bbox = tuple[float, float, float, float]  # lat_min, lon_min, lat_max, lon_max


class GridError(Exception):
    """The grid data cannot be used; the message says which feature and why."""


class GridIndex:
    """Unit grid polygons in an STRtree on a local metric plane.

    A point inside (or on the edge of) cells gets the cell with the smallest code among
    them, so shared edges resolve the same way every time; a point outside every cell
    joins the nearest cell within `snap_m` metres (a road between two cells), else None.
    """

    def __init__(self, cells: Sequence[GridCell], polygons: Sequence[BaseGeometry], snap_m: float):
        if not cells:
            raise GridError("a grid needs at least one cell")
        self.cells = list(cells)
        self.polygons = list(polygons)
        self.snap_m = float(snap_m)
        self.projection = LocalProjection.around(shapely.total_bounds(self.polygons))
        metric = [self.projection.to_metric(p) for p in self.polygons]
        self._tree = shapely.STRtree(metric)
        # Rank by code so that ties (shared edges, equal distances) resolve deterministically.
        order = sorted(range(len(self.cells)), key=lambda i: self.cells[i].code)
        self._rank = np.empty(len(order), dtype=np.int64)
        self._rank[order] = np.arange(len(order))

    @classmethod
    def from_geojson(cls, data: dict, snap_m: float, serial_digits: int) -> GridIndex:
        cells, polygons, problems = parse_features(data, serial_digits)
        if problems:
            first = problems[0]
            raise GridError(
                f"{len(problems)} problem(s) in the grid data, first: feature {first.feature} "
                f"({first.code}): {first.message}"
            )
        return cls(cells, polygons, snap_m)

    @classmethod
    def from_file(cls, path: Path, snap_m: float, serial_digits: int) -> GridIndex:
        try:
            data = json.loads(Path(path).read_text("utf-8"))
        except (OSError, ValueError) as exc:
            raise GridError(f"cannot read grid file {path}: {exc}") from None
        return cls.from_geojson(data, snap_m, serial_digits)

    @property
    def bbox(self) -> Bbox:
        minx, miny, maxx, maxy = shapely.total_bounds(self.polygons)
        return float(miny), float(minx), float(maxy), float(maxx)

    def __len__(self) -> int:
        return len(self.cells)

    @cached_property
    def _by_code(self) -> dict[str, GridCell]:
        return {cell.code: cell for cell in self.cells}

    def cell_by_code(self, code: str) -> GridCell | None:
        return self._by_code.get(code)

    def within(self, bbox: Bbox, limit: int) -> list[tuple[GridCell, BaseGeometry]] | None:
        """The cells meeting ``bbox`` with their WGS-84 polygons, in code order; None when more
        than ``limit`` do (a map asks the viewer to zoom in)."""
        s, w, n, e = bbox
        hits = self._tree.query(self.projection.to_metric(shapely.box(w, s, e, n)))
        if len(hits) > limit:
            return None
        hits = sorted(hits.tolist(), key=lambda i: self.cells[i].code)
        return [(self.cells[i], self.polygons[i]) for i in hits]

    def lookup(self, lat: float, lon: float) -> GridCell | None:
        x, y = self.projection.xy(lat, lon)
        point = shapely.Point(float(x), float(y))
        hits = self._tree.query(point, predicate="intersects")
        if len(hits) == 0:
            hits = self._tree.query_nearest(point, max_distance=self.snap_m)
            if len(hits) == 0:
                return None
        if len(hits) == 1:
            return self.cells[int(hits[0])]
        return self.cells[int(hits[np.argmin(self._rank[hits])])]

    def lookup_many(self, lats: Sequence[float], lons: Sequence[float]) -> list[GridCell | None]:
        return [None if i < 0 else self.cells[i] for i in self.indices(lats, lons).tolist()]

    def indices(self, lats: Sequence[float], lons: Sequence[float]) -> np.ndarray:
        """Cell index per point (-1 outside), vectorized: one tree query for the whole batch."""
        x, y = self.projection.xy(np.asarray(lats, dtype=float), np.asarray(lons, dtype=float))
        points = shapely.points(x, y)
        out = np.full(len(points), -1, dtype=np.int64)
        src, hit = self._tree.query(points, predicate="intersects")
        if len(src):
            order = np.lexsort((self._rank[hit], src))
            src, hit = src[order], hit[order]
            first = np.ones(len(src), dtype=bool)
            first[1:] = src[1:] != src[:-1]
            out[src[first]] = hit[first]
        missing = np.flatnonzero(out < 0)
        if len(missing):
            src, hit = self._tree.query_nearest(points[missing], max_distance=self.snap_m)
            if len(src):
                order = np.lexsort((self._rank[hit], src))
                src, hit = src[order], hit[order]
                first = np.ones(len(src), dtype=bool)
                first[1:] = src[1:] != src[:-1]
                out[missing[src[first]]] = hit[first]
        return out


class SquareGrid:
    """Fallback for a city without polygons: ~100 m squares over its bounding box.

    Codes are deterministic: a 6-digit prefix, the row (4 digits, from the south) and
    the column (from the west) padded so the code has the configured width.
    """

    def __init__(self, bbox: Bbox, prefix: str, serial_digits: int, size_m: float = 100.0,
                 city: str = ""):
        lat_min, lon_min, lat_max, lon_max = bbox
        if not (lat_min < lat_max and lon_min < lon_max):
            raise GridError(f"city.bbox {bbox} must be lat_min, lon_min, lat_max, lon_max")
        self._bbox = bbox
        self.prefix, self.size_m, self.city = prefix, size_m, city
        self.col_digits = 2 + serial_digits
        self.projection = LocalProjection(lat_min, lon_min)
        x, y = self.projection.xy(lat_max, lon_max)
        self.cols, self.rows = math.ceil(float(x) / size_m), math.ceil(float(y) / size_m)
        if self.rows > 9999 or self.cols >= 10**self.col_digits:
            raise GridError("city.bbox is too large for a 100 m fallback grid")

    @property
    def bbox(self) -> Bbox:
        return self._bbox

    def __len__(self) -> int:
        return self.rows * self.cols

    def cell(self, row: int, col: int) -> GridCell:
        return GridCell(
            code=f"{self.prefix}{row:04d}{col:0{self.col_digits}d}",
            district=self.city,
            street="",
            community="",
            name=f"方格 {row}-{col}",
        )

    def polygon(self, row: int, col: int) -> BaseGeometry:
        """The square of (row, col) in WGS-84 (for export and tests)."""
        s, w = self.projection.latlon(col * self.size_m, row * self.size_m)
        n, e = self.projection.latlon((col + 1) * self.size_m, (row + 1) * self.size_m)
        return shapely.box(w, s, e, n)

    def cell_by_code(self, code: str) -> GridCell | None:
        serial = code.removeprefix(self.prefix)
        if len(serial) != 4 + self.col_digits or not serial.isdigit() or not code.startswith(self.prefix):
            return None
        row, col = int(serial[:4]), int(serial[4:])
        return self.cell(row, col) if row < self.rows and col < self.cols else None

    def within(self, bbox: Bbox, limit: int) -> list[tuple[GridCell, BaseGeometry]] | None:
        """As `GridIndex.within`: the squares meeting ``bbox``, or None when over ``limit``."""
        s, w, n, e = bbox
        (row0, row1), (col0, col1) = self._rowcol([s, n], [w, e])
        rows = range(max(int(row0), 0), min(int(row1), self.rows - 1) + 1)
        cols = range(max(int(col0), 0), min(int(col1), self.cols - 1) + 1)
        if len(rows) * len(cols) > limit:
            return None
        return [(self.cell(r, c), self.polygon(r, c)) for r in rows for c in cols]

    def _rowcol(self, lats, lons) -> tuple[np.ndarray, np.ndarray]:
        x, y = self.projection.xy(np.asarray(lats, dtype=float), np.asarray(lons, dtype=float))
        return np.floor(y / self.size_m).astype(np.int64), np.floor(x / self.size_m).astype(np.int64)

    def lookup(self, lat: float, lon: float) -> GridCell | None:
        row, col = (int(v) for v in self._rowcol(lat, lon))
        if 0 <= row < self.rows and 0 <= col < self.cols:
            return self.cell(row, col)
        return None

    def lookup_many(self, lats: Sequence[float], lons: Sequence[float]) -> list[GridCell | None]:
        rows, cols = self._rowcol(lats, lons)
        inside = (rows >= 0) & (rows < self.rows) & (cols >= 0) & (cols < self.cols)
        return [self.cell(r, c) if ok else None
                for r, c, ok in zip(rows.tolist(), cols.tolist(), inside.tolist(), strict=True)]

