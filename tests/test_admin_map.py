"""The staff's map: cells in view with their names and case counts, case points, the city's roads
without a basemap, coordinates shifted to a GCJ-02 basemap, and the page in a browser."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta

import pytest
from werkzeug.serving import make_server

from gateway.admin.users import set_user
from gateway.app import create_app
from geo.coords import convert, distance_m
from geo.grid import SquareGrid
from geo.mapdata import cells_geojson, gazetteer_geojson, parse_bbox
from storage.db import transaction
from storage.models import Case, utcnow
from tests.conftest import make_runtime
from tests.support.admin import PASSWORD, login
from tests.support.browser import screenshot

CELL = "41061100100101"  # 黄河路/华夏南路·黎阳路 网格 in the demo city
IN_CELL = (35.7435, 114.2835)
CITY = "35.69,114.14,35.98,114.36"  # the demo city's cells, all of them


def _case(runtime, number: str, lat: float, lon: float, status: str = "accepted",
          days_ago: float = 1, grid: str | None = CELL) -> None:
    with transaction(runtime.sessions) as session:
        session.add(Case(number=number, label="component:0101", category_name="上水井盖",
                         text="井盖坏了", channel="sms", status=status, lat=lat, lon=lon,
                         grid_code=grid, created_at=utcnow() - timedelta(days=days_ago)))


def _user(runtime, name: str, role: str) -> None:
    with transaction(runtime.sessions) as session:
        set_user(session, name, role, PASSWORD, "test")


def _cell_of(runtime, lat: float, lon: float) -> str:
    return runtime.geo.grid.lookup(lat, lon).code


def test_cells_in_view_carry_their_names_and_only_the_view(runtime):
    grid = runtime.geo.grid
    everything = cells_geojson(grid, parse_bbox(CITY))
    assert len(everything["features"]) == len(grid) and not everything["too_many"]
    props = everything["features"][0]["properties"]
    assert {"district", "street", "community", "name", "code"} <= set(props)
    corner = cells_geojson(grid, (IN_CELL[0] - 0.001, IN_CELL[1] - 0.001,
                                  IN_CELL[0] + 0.001, IN_CELL[1] + 0.001))
    codes = [f["properties"]["code"] for f in corner["features"]]
    assert _cell_of(runtime, *IN_CELL) in codes and len(codes) < len(grid) / 4
    assert grid.within(parse_bbox(CITY), limit=10) is None  # over the limit: zoom in


def test_counts_come_from_the_callback_for_the_cells_in_view(runtime):
    asked = []

    def count(codes):
        asked.extend(codes)
        return {CELL: 7}

    data = cells_geojson(runtime.geo.grid, parse_bbox(CITY), count=count)
    assert sorted(asked) == sorted(f["properties"]["code"] for f in data["features"])
    counts = {f["properties"]["code"]: f["properties"]["cases"] for f in data["features"]}
    assert counts[CELL] == 7 and sum(counts.values()) == 7


def test_a_gcj02_basemap_gets_shifted_coordinates(runtime):
    plain = gazetteer_geojson(runtime.geo.gazetteer)
    shifted = gazetteer_geojson(runtime.geo.gazetteer, "gcj02")
    landmark = next(i for i, f in enumerate(plain["features"]) if f["properties"]["kind"] == "landmark")
    lon, lat = plain["features"][landmark]["geometry"]["coordinates"]
    slon, slat = shifted["features"][landmark]["geometry"]["coordinates"]
    assert (slat, slon) == pytest.approx(convert(lat, lon, "wgs84", "gcj02"))
    assert 100 < distance_m(lat, lon, slat, slon) < 1000  # the datum offset, not a mistake
    kinds = {f["properties"]["kind"] for f in plain["features"]}
    assert kinds == {"road", "landmark", "community"}
    assert {f["geometry"]["type"] for f in plain["features"] if f["properties"]["kind"] == "road"} \
        <= {"LineString", "MultiLineString"}


def test_square_grid_cells_in_view_and_by_code():
    grid = SquareGrid((35.70, 114.20, 35.72, 114.23), "000000", 2, city="演示")
    found = grid.within((35.7051, 114.2051, 35.7059, 114.2069), limit=100)
    assert found and all(grid.cell_by_code(cell.code) == cell for cell, _ in found)
    for cell, polygon in found:
        centre = polygon.centroid
        assert grid.lookup(centre.y, centre.x) == cell
    assert grid.cell_by_code("000000999999") is None and grid.cell_by_code("elsewhere") is None


def test_map_endpoints_for_staff_only(app, runtime):
    _case(runtime, "GI-M1", *IN_CELL)
    _case(runtime, "GI-M2", *IN_CELL, status="closed")
    _case(runtime, "GI-OLD", *IN_CELL, days_ago=200)
    client = app.test_client()
    assert client.get(f"/admin/map/cells.geojson?bbox={CITY}").status_code == 302  # sign in first
    login(client, "otto")
    cells = client.get(f"/admin/map/cells.geojson?bbox={CITY}").json
    counts = {f["properties"]["code"]: f["properties"]["cases"] for f in cells["features"]}
    assert counts[CELL] == 2  # the case 200 days old is outside the 30 days shown
    assert client.get(f"/admin/map/cells.geojson?bbox={CITY}&days=365").json["features"]
    points = client.get(f"/admin/map/cases.geojson?bbox={CITY}").json["features"]
    assert {p["properties"]["number"]: p["properties"]["status"] for p in points} == \
        {"GI-M1": "accepted", "GI-M2": "closed"}
    assert points[0]["geometry"]["coordinates"] == pytest.approx([IN_CELL[1], IN_CELL[0]])
    in_cell = client.get(f"/admin/map/cases.geojson?cell={CELL}").json["features"]
    assert len(in_cell) == 2
    for bad in ("", "1,2,3", "north,west,south,east", "35.8,114.2,35.7,114.4"):
        answer = client.get(f"/admin/map/cells.geojson?bbox={bad}")
        assert answer.status_code == 400, bad
    assert client.get("/admin/map/roads.geojson").json["features"]
    assert 'class="city-map"' in client.get("/admin/map").text


def test_points_follow_the_basemap_datum(tmp_path):
    runtime = make_runtime(tmp_path / "var", GRIDINTAKE_MAP_TILES="amap")
    _user(runtime, "otto", "operator")
    _case(runtime, "GI-G1", *IN_CELL)
    client = create_app(runtime).test_client()
    login(client, "otto")
    [point] = client.get(f"/admin/map/cases.geojson?bbox={CITY}").json["features"]
    lon, lat = point["geometry"]["coordinates"]
    assert (lat, lon) == pytest.approx(convert(*IN_CELL, "wgs84", "gcj02"))
    page = client.get("/admin/map").text
    assert "autonavi" in page  # the preset's tiles
    runtime.db.dispose()


@pytest.fixture
def server(runtime) -> Iterator[str]:
    _user(runtime, "ann", "admin")
    _case(runtime, "GI-B1", *IN_CELL)
    _case(runtime, "GI-B2", 35.7436, 114.2837, status="dispatched")
    http = make_server("127.0.0.1", 0, create_app(runtime), threaded=True)
    thread = threading.Thread(target=http.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{http.server_port}"
    http.shutdown()


@pytest.mark.browser
def test_the_map_in_a_browser_click_a_cell_then_a_case(server, page):
    page.goto(f"{server}/admin/login?next=/admin/map")
    page.fill("input[name=name]", "ann")
    page.fill("input[name=password]", PASSWORD)
    page.click("button.primary")
    page.wait_for_url("**/admin/map")
    page.wait_for_function("document.querySelector('.city-map').dataset.cellsShown > 10")
    page.wait_for_function("document.querySelector('.city-map').dataset.casesShown == 2")
    assert page.locator(".leaflet-overlay-pane path.leaflet-interactive").count() > 40  # roads, cells
    assert page.locator(".place-label").count() > 10  # landmarks named, no basemap needed
    screenshot(page, "admin", "map")
    busy = page.locator('.leaflet-overlay-pane path[fill-opacity="0.55"]')  # the cell with cases
    assert busy.count() == 1
    busy.click(position={"x": 2, "y": 2}, force=True)  # a corner: the cluster marker sits mid-cell
    panel = page.locator(".map-panel")
    panel.locator("a.case-link").first.wait_for()
    assert "福源社区" in panel.inner_text() and panel.locator("a.case-link").count() == 2
    screenshot(page, "admin", "map-cell")
    panel.locator("a.case-link", has_text="GI-B2").click()
    page.wait_for_url("**/admin/cases/GI-B2")
    page.wait_for_function("document.querySelector('.city-map').dataset.casesShown >= 1")
    screenshot(page, "admin", "case-map")
