"""Grid index: the demo city, boundaries, snapping, vectorized lookups, square fallback."""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pytest
import shapely

from geo.grid import GridError, GridIndex, SquareGrid
from geo.service import demo_grids_path
from geo.types import GridCell

DEMO = json.loads(demo_grids_path().read_text("utf-8"))


@pytest.fixture(scope="module")
def grid() -> GridIndex:
    return GridIndex.from_geojson(DEMO, snap_m=60, serial_digits=2)


def _square(code: str, w: float, s: float, e: float, n: float):
    return GridCell(code=code, district="区", street="街", community="社区"), shapely.box(w, s, e, n)


def test_demo_city_has_the_planned_cells_per_district(grid):
    counts = Counter(c.district for c in grid.cells)
    assert counts == {"淇滨区": 31, "山城区": 29, "鹤山区": 5, "开发区": 11, "宝山区": 2,
                      "示范区": 7}
    assert DEMO["metadata"]["demo"] is True


def test_demo_codes_follow_gbt_30428_with_the_county_prefixes(grid):
    prefixes = {"淇滨区": "410611", "山城区": "410603", "鹤山区": "410602"}
    for cell in grid.cells:
        assert len(cell.code) == 14 and cell.code.isdigit()
        if cell.district in prefixes:
            assert cell.code.startswith(prefixes[cell.district])
        assert cell.chief and cell.chief_phone
        assert set(cell.bodies) == {"sanitation", "greening", "municipal", "enforcement",
                                    "lighting"}


def test_demo_cells_sit_where_the_districts_are(grid):
    qibin = grid.lookup(35.745, 114.29)
    assert qibin is not None and qibin.district == "淇滨区"
    shancheng = grid.lookup(35.905, 114.185)
    assert shancheng is not None and shancheng.district == "山城区"
    heshan = grid.lookup(35.954, 114.16)
    assert heshan is not None and heshan.district == "鹤山区"


def test_every_cell_answers_for_its_own_interior(grid):
    for cell, polygon in zip(grid.cells, grid.polygons, strict=True):
        p = polygon.representative_point()
        assert grid.lookup(p.y, p.x) == cell


def test_a_point_on_a_shared_edge_always_gets_the_smaller_code():
    a = _square("41061100100101", 114.0, 35.0, 114.01, 35.01)
    b = _square("41061100100102", 114.01, 35.0, 114.02, 35.01)
    for order in ((a, b), (b, a)):
        index = GridIndex([c for c, _ in order], [p for _, p in order], snap_m=60)
        assert index.lookup(35.005, 114.01).code == "41061100100101"
        assert index.lookup_many([35.005], [114.01])[0].code == "41061100100101"


def test_a_point_just_outside_snaps_within_the_distance_only():
    cell, poly = _square("41061100100101", 114.0, 35.0, 114.01, 35.01)
    index = GridIndex([cell], [poly], snap_m=60)
    metre_lon = 1 / (111320 * np.cos(np.radians(35.005)))
    assert index.lookup(35.005, 114.01 + 40 * metre_lon) == cell  # 40 m out, on the road
    assert index.lookup(35.005, 114.01 + 90 * metre_lon) is None  # 90 m out
    many = index.lookup_many([35.005, 35.005], [114.01 + 40 * metre_lon, 114.01 + 90 * metre_lon])
    assert many == [cell, None]


def test_outside_the_service_area_is_none(grid):
    assert grid.lookup(39.9, 116.4) is None
    assert grid.lookup(35.83, 114.25) is None  # between the old and the new town


def test_vectorized_lookups_agree_with_single_ones(grid):
    lat_min, lon_min, lat_max, lon_max = grid.bbox
    rng = np.random.default_rng(3)
    lats = rng.uniform(lat_min - 0.01, lat_max + 0.01, 3000)
    lons = rng.uniform(lon_min - 0.01, lon_max + 0.01, 3000)
    many = grid.lookup_many(lats, lons)
    assert many == [grid.lookup(a, b) for a, b in zip(lats, lons, strict=True)]
    assert any(c is None for c in many) and any(c is not None for c in many)


def test_bbox_is_lat_lon_order(grid):
    lat_min, lon_min, lat_max, lon_max = grid.bbox
    assert 35.6 < lat_min < lat_max < 36.1
    assert 114.1 < lon_min < lon_max < 114.4


def test_invalid_grid_data_is_refused_with_the_feature():
    bad = json.loads(json.dumps(DEMO))
    bad["features"][3]["properties"]["code"] = "123"
    with pytest.raises(GridError, match="feature 3"):
        GridIndex.from_geojson(bad, 60, 2)


def test_square_grid_fallback_is_deterministic_and_about_100_m():
    grid = SquareGrid((35.70, 114.20, 35.80, 114.35), "410611", serial_digits=2)
    cell = grid.lookup(35.7501, 114.2801)
    again = SquareGrid((35.70, 114.20, 35.80, 114.35), "410611", serial_digits=2)
    assert cell == again.lookup(35.7501, 114.2801)
    assert len(cell.code) == 14 and cell.code.startswith("410611")
    row, col = int(cell.code[6:10]), int(cell.code[10:])
    square = grid.polygon(row, col)
    assert square.contains(shapely.Point(114.2801, 35.7501))
    metric = grid.projection.to_metric(square)
    assert metric.area == pytest.approx(10_000, rel=0.01)
    assert grid.lookup(35.65, 114.28) is None
    assert grid.lookup_many([35.7501, 35.65], [114.2801, 114.28]) == [cell, None]


def test_square_grid_code_width_follows_the_serial_digits():
    grid = SquareGrid((35.70, 114.20, 35.80, 114.35), "410611", serial_digits=3)
    assert len(grid.lookup(35.75, 114.28).code) == 15
