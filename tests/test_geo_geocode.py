"""Offline geocoding of the demo gazetteer: the phrase set, relations, scope, reverse, CLI."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

import geo
from geo.coords import distance_m, wgs84_to_gcj02
from geo.gazetteer import Gazetteer
from geo.offline import GazetteerGeocoder
from settings.config import load_config
from settings.typed import GeoSettings
from tests.geo_cli import run_geo_command as _run

PHRASES = Path(__file__).parent / "fixtures" / "geo" / "phrases.csv"


@pytest.fixture(scope="module")
def service() -> geo.GeoService:
    return geo.build_geo(GeoSettings.from_config(load_config(env={})))


def _rows() -> list[dict[str, str]]:
    with PHRASES.open(encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_phrase_set_resolves_to_the_right_cell_at_least_95_percent(service):
    rows = _rows()
    assert len(rows) >= 100
    wrong = []
    for row in rows:
        result = service.geocode(row["phrase"])
        got = result.cell.code if result and result.cell else ""
        if got != row["expected_code"]:
            wrong.append((row["phrase"], row["expected_code"], got))
    assert len(wrong) / len(rows) <= 0.05, wrong


@pytest.mark.parametrize("kind", ["intersection", "relation", "number", "typo", "traditional",
                                  "english", "landmark", "community", "in_report"])
def test_every_kind_of_phrase_lands_near_its_true_point(service, kind):
    rows = [r for r in _rows() if r["kind"] == kind]
    assert rows
    errors = sorted(
        distance_m(res.lat, res.lon, float(r["lat"]), float(r["lon"]))
        for r in rows if (res := service.geocode(r["phrase"])) is not None
    )
    assert len(errors) == len(rows)
    assert errors[len(errors) // 2] < 40  # median error in metres


def test_intersection_contract_fields(service):
    result = service.geocode("淇滨大道与九州路交叉口")
    data = result.to_json()
    assert data["provider"] == "gazetteer" and data["confidence"] >= 0.8
    assert data["matched"] == "淇滨大道 × 九州路"
    assert data["grid_code"].startswith("410611") and data["district"] == "淇滨区"
    assert data["street"] and data["community"]
    assert "淇滨大道" in data["address"] and "九州路" in data["address"]


def test_relative_offset_moves_the_point_by_the_stated_distance(service):
    base = service.geocode("淇滨大道与九州路交叉口")
    east = service.geocode("淇滨大道与九州路交叉口往东500米")
    assert distance_m(base.lat, base.lon, east.lat, east.lon) == pytest.approx(500, abs=2)
    assert east.lon > base.lon and east.lat == pytest.approx(base.lat, abs=1e-7)
    assert east.cell.code != base.cell.code
    assert east.confidence < base.confidence


def test_opposite_puts_the_point_across_the_nearest_road(service):
    here = service.geocode("万达广场")
    there = service.geocode("万达广场对面")
    gap = distance_m(here.lat, here.lon, there.lat, there.lon)
    assert 200 < gap < 350  # 155 m from the road on each side


def test_house_numbers_interpolate_along_the_road(service):
    low = service.geocode("华夏南路12号")
    high = service.geocode("华夏南路300号")
    assert low.lat > high.lat  # numbered from the north end
    assert low.matched == "华夏南路12号" and low.confidence >= 0.8
    assert distance_m(low.lat, low.lon, high.lat, high.lon) == pytest.approx(2880, rel=0.02)


def test_a_road_alone_is_low_confidence(service):
    result = service.geocode("九州路")
    assert result is not None and result.confidence < 0.6


def test_typos_and_traditional_characters_cost_some_confidence(service):
    exact = service.geocode("淇滨大道与九州路交叉口")
    typo = service.geocode("淇滨大道与九洲路交叉口")
    trad = service.geocode("淇濱大道與九州路交叉口")
    assert (typo.lat, typo.lon) == (exact.lat, exact.lon) == (trad.lat, trad.lon)
    assert typo.confidence < exact.confidence == trad.confidence


def test_same_suffix_is_required_for_short_fuzzy_names(service):
    # 人民街 is one edit from 人民路, but a 街 is not a 路
    assert service.geocode("人民街") is None


@pytest.mark.parametrize("text", ["郑州市长江路与黄河路交叉口", "北京人民路100号", "淇县朝歌路",
                                  "上海市黄河路", "路灯坏了", "", "   ", "\x00\x01", "1234"])
def test_other_cities_and_placeless_text_are_not_matched(service, text):
    assert service.geocode(text) is None


def _road(name: str, coords: list[list[float]], **props) -> dict:
    return {"type": "Feature", "geometry": {"type": "LineString", "coordinates": coords},
            "properties": {"kind": "road", "name": name, **props}}


def _gazetteer(*features: dict, **meta) -> GazetteerGeocoder:
    data = {"type": "FeatureCollection", "metadata": meta, "features": list(features)}
    return GazetteerGeocoder(Gazetteer.from_geojson(data))


def test_a_road_named_after_another_city_is_not_a_city_mention():
    coder = _gazetteer(_road("北京路", [[114.27, 35.745], [114.32, 35.745]]), city_names=["鹤壁"])
    result = coder.geocode("北京路")
    assert result is not None and result.matched == "北京路"


def test_district_hint_picks_the_road_of_that_district():
    coder = _gazetteer(
        _road("人民路", [[114.27, 35.745], [114.32, 35.745]], district="淇滨区", numbers=[1, 500]),
        _road("人民路", [[114.17, 35.906], [114.2, 35.906]], district="山城区", numbers=[1, 300]),
        districts={"山城区": ["山城"]},
    )
    assert coder.geocode("山城区人民路20号").lat == pytest.approx(35.906)
    assert coder.geocode("人民路20号").lat == pytest.approx(35.745)


def test_listed_intersections_are_used_when_roads_do_not_cross():
    crossing = {"type": "Feature", "geometry": {"type": "Point", "coordinates": [114.285, 35.7452]},
                "properties": {"kind": "intersection", "name": "甲乙路口", "roads": ["甲路", "乙路"]}}
    coder = _gazetteer(_road("甲路", [[114.27, 35.745], [114.28, 35.745]]),
                       _road("乙路", [[114.29, 35.74], [114.29, 35.75]]), crossing)
    result = coder.geocode("甲路与乙路交叉口")
    assert (result.lat, result.lon) == pytest.approx((35.7452, 114.285))


def test_locate_a_pin_in_each_crs(service):
    lat, lon = 35.7451, 114.2881
    wgs = service.locate(lat, lon)
    gcj = service.locate(*wgs84_to_gcj02(lat, lon), crs="gcj02")
    assert wgs.provider == "pin" and wgs.cell is not None
    assert gcj.cell == wgs.cell and distance_m(gcj.lat, gcj.lon, lat, lon) < 0.5
    assert wgs.address == "九州路/淇滨大道附近" or wgs.address == "淇滨大道/九州路附近"


def test_locate_outside_the_service_area_has_no_cell(service):
    result = service.locate(39.9042, 116.4074)
    assert result.cell is None and result.address is None


def test_reverse_names_a_nearby_landmark(service):
    place = service.geocode("鹤壁东站")
    assert service.reverse(place.lat, place.lon).startswith("鹤壁东站")


def test_gazetteer_names_include_roads_landmarks_communities_and_aliases():
    names = geo.gazetteer_names()
    for name in ("淇滨大道", "九州路", "鹤壁东站", "万达广场", "建业桂园", "市政府", "红旗街"):
        assert name in names
    assert len(names) == len(set(names))


@pytest.fixture
def clean_env(tmp_path, monkeypatch):
    for name in ("GRIDINTAKE_CONFIG", "GRIDINTAKE_GEOCODER"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GRIDINTAKE_DATA_DIR", str(tmp_path / "var"))


def test_cli_geocode(clean_env, capsys):
    assert _run("geocode", "淇滨大道与九州路交叉口") == 0
    data = json.loads(capsys.readouterr().out)
    for key in ("lat", "lon", "grid_code", "district", "street", "community", "provider",
                "confidence", "matched"):
        assert key in data
    assert data["grid_code"].startswith("410611")


def test_cli_geocode_not_found_is_one_line(clean_env, capsys):
    assert _run("geocode", "火星基地") == 1
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.count("\n") == 1


def test_cli_grid_with_crs(clean_env, capsys):
    lat, lon = wgs84_to_gcj02(35.7451, 114.2881)
    assert _run("grid", str(lat), str(lon), "--crs", "gcj02") == 0
    data = json.loads(capsys.readouterr().out)
    assert data["grid_code"].startswith("410611") and data["district"] == "淇滨区"
    assert (data["lat"], data["lon"]) == pytest.approx((35.7451, 114.2881), abs=1e-5)
    assert _run("grid", "39.9", "116.4") == 1
    assert "outside the service area" in capsys.readouterr().err


def test_cli_coords(clean_env, capsys):
    assert _run("coords", "39.915", "116.404", "--from", "wgs84", "--to", "gcj02") == 0
    data = json.loads(capsys.readouterr().out)
    assert (data["lat"], data["lon"]) == pytest.approx((39.91640428, 116.41024450), abs=1e-6)
    assert _run("coords", "95", "116.404", "--from", "wgs84", "--to", "gcj02") == 1
    assert capsys.readouterr().err.startswith("error:")


def test_cli_bad_configuration_is_one_line(clean_env, monkeypatch, capsys):
    monkeypatch.setenv("GRIDINTAKE_GEOCODER", "google")
    assert _run("geocode", "九州路") == 1
    err = capsys.readouterr().err
    assert "geocoding.provider" in err and err.count("\n") == 1


def test_a_place_at_the_end_of_a_long_message_is_still_found(service):
    text = "今天早上路过看到井盖坏了很危险。" * 6000 + "淇滨大道与九州路交叉口"
    result = service.geocode(text)
    assert result is not None and result.matched == "淇滨大道 × 九州路"
