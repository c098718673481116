"""`grids import`: validation reports per feature, nothing half-imported, atomic replace."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from geo.service import build_geo, demo_grids_path
from geo.validate import check_topology, parse_features
from settings.typed import GeoSettings
from tests.geo_cli import run_geo_command as _run

DEMO = json.loads(demo_grids_path().read_text("utf-8"))


def _square(code: str, w: float, s: float, size: float = 0.01, **props) -> dict:
    ring = [[w, s], [w + size, s], [w + size, s + size], [w, s + size], [w, s]]
    return {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [ring]},
            "properties": {"code": code, "district": "淇滨区", "street": "九州路街道",
                           "community": "九州社区", **props}}


def _collection(*features) -> dict:
    return {"type": "FeatureCollection", "features": list(features)}


def _problems(data: dict, digits: int = 2) -> list[dict]:
    cells, polygons, problems = parse_features(data, digits)
    return [p.to_json() for p in problems + check_topology(cells, polygons)]


def test_the_demo_city_is_clean():
    assert _problems(DEMO) == []


def test_malformed_and_duplicate_codes_are_reported_per_feature():
    data = _collection(_square("41061100100101", 114.0, 35.0), _square("4106110010010", 114.01, 35.0),
                       _square("41061100100101", 114.02, 35.0), _square("41061100100A01", 114.03, 35.0))
    found = {(p["feature"], p["problem"].split(" (")[0]) for p in _problems(data)}
    assert found == {(1, "grid code must be 14 digits"), (2, "duplicate grid code"),
                     (3, "grid code must be 14 digits")}


def test_serial_width_is_configurable():
    data = _collection(_square("410611001001001", 114.0, 35.0))
    assert _problems(data, digits=3) == []
    assert _problems(data, digits=2)[0]["problem"] == "grid code must be 14 digits"


def test_invalid_geometry_is_reported():
    bow_tie = _square("41061100100101", 114.0, 35.0)
    bow_tie["geometry"]["coordinates"] = [[[114.0, 35.0], [114.01, 35.01], [114.01, 35.0],
                                           [114.0, 35.01], [114.0, 35.0]]]
    point = _square("41061100100102", 114.02, 35.0)
    point["geometry"] = {"type": "Point", "coordinates": [114.02, 35.0]}
    problems = _problems(_collection(bow_tie, point))
    assert problems[0]["feature"] == 0 and "Self-intersection" in problems[0]["problem"]
    assert problems[1]["feature"] == 1 and "not a polygon" in problems[1]["problem"]


def test_missing_names_are_reported():
    feature = _square("41061100100101", 114.0, 35.0)
    del feature["properties"]["street"]
    assert _problems(_collection(feature)) == [
        {"feature": 0, "code": "41061100100101", "problem": "missing property 'street'"}]


def test_overlaps_are_reported_with_both_codes():
    data = _collection(_square("41061100100101", 114.0, 35.0),
                       _square("41061100100102", 114.005, 35.0))
    (problem,) = _problems(data)
    assert problem["feature"] == 0 and "overlaps 41061100100102" in problem["problem"]


def test_touching_cells_are_not_overlaps():
    data = _collection(_square("41061100100101", 114.0, 35.0),
                       _square("41061100100102", 114.01, 35.0))
    assert _problems(data) == []


def test_a_gap_inside_the_area_is_reported_with_its_neighbours():
    ring = [_square(f"410611001001{i:02d}", 114.0 + (i % 3) * 0.01, 35.0 + (i // 3) * 0.01)
            for i in range(9) if i != 4]
    (problem,) = _problems(_collection(*ring))
    assert problem["feature"] is None and problem["problem"].startswith("gap of")
    assert "41061100100101" in problem["problem"]


@pytest.fixture
def city_env(tmp_path, monkeypatch) -> Path:
    for name in ("GRIDINTAKE_CONFIG", "GRIDINTAKE_GEOCODER"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GRIDINTAKE_DATA_DIR", str(tmp_path / "var"))
    return tmp_path


def test_import_replaces_the_grid_used_by_the_service(city_env, capsys):
    new = _collection(_square("41061100900101", 114.28, 35.74), _square("41061100900102", 114.29, 35.74))
    path = city_env / "new.geojson"
    path.write_text(json.dumps(new), "utf-8")
    assert _run("grids", "import", str(path)) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["imported"] is True and out["cells"] == 2
    from settings.config import load_config

    service = build_geo(GeoSettings.from_config(load_config()))
    assert len(service.grid) == 2
    assert service.grid.lookup(35.745, 114.285).code == "41061100900101"


def test_a_bad_import_changes_nothing_and_reports_every_problem(city_env, capsys):
    good = city_env / "good.geojson"
    good.write_text(json.dumps(_collection(_square("41061100900101", 114.28, 35.74))), "utf-8")
    assert _run("grids", "import", str(good)) == 0
    capsys.readouterr()
    stored = (city_env / "var" / "grids.geojson").read_bytes()
    bad = city_env / "bad.geojson"
    bad.write_text(json.dumps(_collection(_square("41061100900101", 114.28, 35.74),
                                          _square("41061100900101", 114.285, 35.74),
                                          _square("x", 114.3, 35.74))), "utf-8")
    assert _run("grids", "import", str(bad)) == 1
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    assert report["imported"] is False and len(report["problems"]) == 3
    assert captured.err.count("\n") == 1 and "nothing imported" in captured.err
    assert (city_env / "var" / "grids.geojson").read_bytes() == stored
    assert not list((city_env / "var").glob(".grids-*"))


def test_import_of_an_unreadable_file_is_one_line(city_env, capsys):
    path = city_env / "broken.geojson"
    path.write_text("{not json", "utf-8")
    assert _run("grids", "import", str(path)) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: cannot read") and err.count("\n") == 1
