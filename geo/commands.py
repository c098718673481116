"""CLI subcommands of the geo layer: geocode, grid, coords, grids import."""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from geo.coords import CRS, convert, to_wgs84
from geo.service import IMPORTED_GRIDS, GeoConfigError, build_geo
from geo.validate import check_topology, parse_features
from settings.config import ConfigError, load_config
from settings.typed import GeoSettings, MediaSettings
from storage.db import make_engine
from storage.grids import publish_grids
from storage.media import store_for


def _config():
    return load_config()


def _settings() -> GeoSettings:
    return GeoSettings.from_config(_config())


def _session_factory(config: Any):
    """The database for the geocode cache, when storage is set up; else no cache."""
    if GeoSettings.from_config(config).provider == "gazetteer":
        return None
    try:
        from storage.db import make_engine, make_session_factory

        return make_session_factory(make_engine(config.database_url))
    except Exception:  # no storage: geocoding still works, uncached
        return None


def _emit(data: Any) -> int:
    print(json.dumps(data, ensure_ascii=False))
    return 0


def _fail(message: str, code: int = 1) -> int:
    print(f"error: {message}", file=sys.stderr)
    return code


def cmd_geocode(args: argparse.Namespace) -> int:
    config = _config()
    settings = GeoSettings.from_config(config)
    service = build_geo(settings, _session_factory(config))
    result = service.geocode(args.text)
    if result is None:
        return _fail(f"place not found in {settings.city or 'the city'}: {args.text!r}")
    return _emit(result.to_json())


def cmd_grid(args: argparse.Namespace) -> int:
    service = build_geo(_settings())
    lat, lon = to_wgs84(args.lat, args.lon, args.crs)
    cell = service.grid.lookup(lat, lon)
    if cell is None:
        return _fail(f"{lat:.6f},{lon:.6f} (WGS-84) is outside the service area")
    return _emit({"grid_code": cell.code, **cell.to_json(), "lat": round(lat, 7),
                  "lon": round(lon, 7), "crs": args.crs, "address": service.reverse(lat, lon)})


def cmd_coords(args: argparse.Namespace) -> int:
    lat, lon = convert(args.lat, args.lon, args.src, args.dst)
    return _emit({"lat": round(lat, 8), "lon": round(lon, 8), "crs": args.dst})


def cmd_grids_import(args: argparse.Namespace) -> int:
    config = _config()
    digits = GeoSettings.from_config(config).grid_code_serial_digits
    try:
        text = Path(args.file).read_text("utf-8")
        data = json.loads(text)
    except (OSError, ValueError) as exc:
        return _fail(f"cannot read {args.file}: {exc}")
    cells, polygons, problems = parse_features(data, digits)
    problems += check_topology(cells, polygons)
    if problems:
        print(json.dumps({"imported": False, "problems": [p.to_json() for p in problems]},
                         ensure_ascii=False, indent=1))
        return _fail(f"{len(problems)} problem(s) in {args.file}; nothing imported")
    target = config.data_dir / IMPORTED_GRIDS
    fd, tmp = tempfile.mkstemp(prefix=".grids-", suffix=".geojson", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, target)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        return _fail(f"cannot write {target}: {exc}")
    districts = sorted({c.district for c in cells})
    return _emit({"imported": True, "cells": len(cells), "districts": districts,
                  "path": str(target), **_share(config, text)})


def _share(config: Any, text: str) -> dict[str, Any]:
    """Make the grids every host's (media store + version); a database not set up yet keeps
    them on this host only, and says so."""
    engine = make_engine(config.database_url)
    try:
        media = store_for(MediaSettings.from_config(config), config.data_dir, engine)
        with Session(engine) as session, session.begin():
            return {"grid_version": publish_grids(session, media, text, "cli"), "shared": True}
    except SQLAlchemyError as exc:
        return {"shared": False, "not_shared_because": f"{type(exc).__name__} (run gridintake db upgrade)"}
    finally:
        engine.dispose()


def _guarded(func):
    """Configuration and input errors become one line on stderr."""

    def run(args: argparse.Namespace) -> int:
        try:
            return func(args)
        except (GeoConfigError, ConfigError, ValueError) as exc:
            return _fail(str(exc))

    return run


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("geocode", help="place words → WGS-84 point and grid cell (JSON)")
    p.add_argument("text")
    p.set_defaults(func=_guarded(cmd_geocode))

    p = subparsers.add_parser("grid", help="point → unit grid cell (JSON)")
    p.add_argument("lat", type=float)
    p.add_argument("lon", type=float)
    p.add_argument("--crs", choices=CRS, default="wgs84")
    p.set_defaults(func=_guarded(cmd_grid))

    p = subparsers.add_parser("coords", help="convert a point between wgs84, gcj02 and bd09")
    p.add_argument("lat", type=float)
    p.add_argument("lon", type=float)
    p.add_argument("--from", dest="src", choices=CRS, required=True)
    p.add_argument("--to", dest="dst", choices=CRS, required=True)
    p.set_defaults(func=_guarded(cmd_coords))

    p = subparsers.add_parser("grids", help="manage the city's unit grid polygons")
    sub = p.add_subparsers(dest="grids_command", required=True)
    q = sub.add_parser("import", help="validate a GeoJSON of grid cells, then replace the grid")
    q.add_argument("file")
    q.set_defaults(func=_guarded(cmd_grids_import))
