"""Coordinate systems: published pairs, round trips, the mainland boundary."""

from __future__ import annotations

import pytest

from geo.coords import (
    bd09_to_gcj02,
    convert,
    distance_m,
    gcj02_to_bd09,
    gcj02_to_wgs84,
    in_mainland_china,
    wgs84_to_bd09,
    wgs84_to_gcj02,
)

# (wgs lat, wgs lon, gcj lat, gcj lon) from the eviltransform test suite
WGS_GCJ = [
    (31.1774276, 121.5272106, 31.17530398364597, 121.531541859215),  # Shanghai
    (22.543847, 113.912316, 22.540796131694766, 113.9171764808363),  # Shenzhen
    (39.911954, 116.377817, 39.91334545536069, 116.38404722455657),  # Beijing
]
# coordtransform (wandergis) README: input (39.915, 116.404) in each direction
GCJ_TO_BD = (39.915, 116.404, 39.92133699351021, 116.41036949371029)
WGS_TO_GCJ_BEIJING = (39.915, 116.404, 39.91640428150164, 116.41024449916938)


@pytest.mark.parametrize(("lat", "lon", "glat", "glon"), [*WGS_GCJ, WGS_TO_GCJ_BEIJING])
def test_wgs84_to_gcj02_matches_published_values(lat, lon, glat, glon):
    got = wgs84_to_gcj02(lat, lon)
    assert got == pytest.approx((glat, glon), abs=1e-6)


def test_gcj02_to_bd09_matches_published_value():
    lat, lon, blat, blon = GCJ_TO_BD
    assert gcj02_to_bd09(lat, lon) == pytest.approx((blat, blon), abs=1e-6)


@pytest.mark.parametrize(("lat", "lon", "glat", "glon"), WGS_GCJ)
def test_gcj02_inverse_recovers_wgs84_within_half_a_metre(lat, lon, glat, glon):
    back = gcj02_to_wgs84(glat, glon)
    assert distance_m(*back, lat, lon) < 0.5


@pytest.mark.parametrize("point", [(35.745, 114.288), (35.9, 114.18), (18.25, 109.5),
                                   (45.75, 126.65), (43.8, 87.6), (29.65, 91.1)])
def test_round_trips_through_every_system(point):
    lat, lon = point
    for crs in ("gcj02", "bd09"):
        there = convert(lat, lon, "wgs84", crs)
        assert distance_m(*there, lat, lon) > 100  # a real shift happened
        back = convert(*there, crs, "wgs84")
        assert distance_m(*back, lat, lon) < 0.5


def test_bd09_inverse_is_exact_where_the_published_formula_is_approximate():
    lat, lon = 35.7512, 114.3005
    gcj = bd09_to_gcj02(lat, lon)
    assert gcj02_to_bd09(*gcj) == pytest.approx((lat, lon), abs=1e-8)


ABROAD = [(35.68, 139.69), (37.56, 126.97), (39.03, 125.75), (25.03, 121.56), (22.28, 114.16),
          (48.85, 2.35), (1.35, 103.82), (13.75, 100.5), (21.03, 105.85), (28.61, 77.21),
          (27.7, 85.3), (47.92, 106.92), (43.24, 76.95), (43.12, 131.89), (14.6, 120.98)]
MAINLAND = [(35.745, 114.288), (39.47, 75.99), (43.8, 87.6), (29.65, 91.1), (18.25, 109.5),
            (45.75, 126.65), (21.54, 107.97), (21.94, 101.25), (42.87, 130.37), (43.65, 111.98),
            (22.55, 114.06), (36.07, 120.38), (40.12, 124.38), (53.0, 122.5)]


@pytest.mark.parametrize("point", ABROAD)
def test_no_shift_outside_mainland_china(point):
    assert not in_mainland_china(*point)
    for crs in ("gcj02", "bd09"):
        assert convert(*point, "wgs84", crs) == point
        assert convert(*point, crs, "wgs84") == point


@pytest.mark.parametrize("point", MAINLAND)
def test_mainland_cities_near_borders_and_coasts_are_shifted(point):
    assert in_mainland_china(*point)
    assert distance_m(*wgs84_to_gcj02(*point), *point) > 50


def test_wgs84_to_bd09_composes_both_steps():
    lat, lon = 35.745, 114.288
    assert wgs84_to_bd09(lat, lon) == gcj02_to_bd09(*wgs84_to_gcj02(lat, lon))


@pytest.mark.parametrize(("src", "dst"), [("wgs84", "mars"), ("utm", "wgs84")])
def test_unknown_systems_are_refused(src, dst):
    with pytest.raises(ValueError, match="unknown coordinate system"):
        convert(35.0, 114.0, src, dst)


def test_out_of_range_coordinates_are_refused():
    with pytest.raises(ValueError, match="out of range"):
        convert(135.0, 114.0, "wgs84", "gcj02")
