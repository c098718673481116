"""Grids imported on one host are used by every host: `grids import` keeps the GeoJSON in the
media store with a new grid version, and another host's running geo service swaps its grid
within seconds (two runtimes with data directories of their own on one PostgreSQL)."""

from __future__ import annotations

import json

from storage.db import transaction
from storage.grids import current_grids
from tests.conftest import make_runtime
from tests.geo_cli import run_geo_command
from tests.support.processes import wait_for

POINT = (35.745, 114.285)


def _square(code: str, w: float, s: float, size: float = 0.01) -> dict:
    ring = [[w, s], [w + size, s], [w + size, s + size], [w, s + size], [w, s]]
    return {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [ring]},
            "properties": {"code": code, "district": "淇滨区", "street": "九州路街道",
                           "community": "九州社区"}}


def test_grids_imported_on_one_host_are_followed_by_another(tmp_path, postgres_url, monkeypatch, capsys):
    a, b = (make_runtime(tmp_path / name, postgres_url) for name in ("a", "b"))
    b.classifier_check_s = 0.2
    before = b.geo.grid.lookup(*POINT)
    assert before is not None and before.code != "41061100900101"
    new = tmp_path / "new.geojson"
    new.write_text(json.dumps({"type": "FeatureCollection", "features": [
        _square("41061100900101", 114.28, 35.74), _square("41061100900102", 114.29, 35.74)]}), "utf-8")
    monkeypatch.setenv("GRIDINTAKE_DATA_DIR", str(a.config.data_dir))
    monkeypatch.setenv("GRIDINTAKE_DATABASE_URL", postgres_url)
    assert run_geo_command("grids", "import", str(new)) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["shared"] is True and out["grid_version"] == 1
    with transaction(a.sessions) as session:
        version, key = current_grids(session)
    assert version == 1 and a.media.exists(key)

    cell = wait_for("host B to follow the imported grids",
                    lambda: (c := b.geo.grid.lookup(*POINT)) and c.code == "41061100900101" and c,
                    timeout=10)
    assert cell.district == "淇滨区" and len(b.geo.grid) == 2
    assert (b.config.data_dir / "grids.geojson").read_text("utf-8") == new.read_text("utf-8")
    for runtime in (a, b):
        runtime.db.dispose()
