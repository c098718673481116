"""The staff's map: grid cells (named, shaded by their cases), case points by status, the city's
roads when there is no basemap. The page is static; Leaflet (shipped in static/admin/vendor)
asks these endpoints for what is in view, so a city of 200,000 cells never sends them all."""

from __future__ import annotations

from datetime import timedelta

from flask import abort, jsonify, render_template, request, url_for
from sqlalchemy import func, select

from gateway.admin import bp
from gateway.admin.security import require, runtime
from geo.mapdata import cells_geojson, gazetteer_geojson, parse_bbox, point
from storage.db import transaction
from storage.models import Case, utcnow

MAX_CASES = 5000  # points sent for one view; the newest first
PERIODS = (7, 30, 90, 365)


def _days() -> int:
    days = request.args.get("days", "30")
    return int(days) if days.isdigit() and int(days) in PERIODS else 30


def _bbox():
    bbox = parse_bbox(request.args.get("bbox"))
    if bbox is None:
        abort(400, description="bbox=south,west,north,east (WGS-84 degrees) is required")
    return bbox


def map_config() -> dict[str, str]:
    """What the page's script needs, as data- attributes (no inline script)."""
    settings = runtime().settings.map
    s, w, n, e = runtime().geo.grid.bbox
    return {"tiles": settings.tiles, "attribution": settings.attribution,
            "bounds": ",".join(f"{v:.6f}" for v in (*point(s, w, settings.crs),
                                                      *point(n, e, settings.crs))),
            "cells": url_for("admin.map_cells"), "cases": url_for("admin.map_cases"),
            "roads": url_for("admin.map_roads"), "case-url": url_for("admin.case_detail", number="_")}


@bp.app_template_global("map_config")
def _map_config() -> dict[str, str]:
    return map_config()


@bp.app_template_global("map_point")
def map_point(lat: float, lon: float) -> str:
    """A WGS-84 point as the map's `data-focus`, in the basemap's datum."""
    return "{:.6f},{:.6f}".format(*point(lat, lon, runtime().settings.map.crs))


@bp.get("/map")
@require("operator")
def city_map():
    return render_template("admin/map.html", days=_days(), periods=PERIODS)


@bp.get("/map/cells.geojson")
@require("operator")
def map_cells():
    bbox, since, rt = _bbox(), utcnow() - timedelta(days=_days()), runtime()

    def count(codes: list[str]) -> dict[str, int]:
        with transaction(rt.sessions) as db:
            return dict(db.execute(select(Case.grid_code, func.count()).where(
                Case.grid_code.in_(codes), Case.created_at >= since).group_by(Case.grid_code)).all())

    return jsonify(cells_geojson(rt.geo.grid, bbox, rt.settings.map.crs, count))


@bp.get("/map/cases.geojson")
@require("operator")
def map_cases():
    """Case points in view (or in one cell: ``cell=<code>``), newest first."""
    since, crs = utcnow() - timedelta(days=_days()), runtime().settings.map.crs
    query = select(Case.number, Case.status, Case.category_name, Case.lat, Case.lon,
                   Case.grid_code, Case.created_at).where(
        Case.created_at >= since, Case.lat.is_not(None), Case.lon.is_not(None))
    if request.args.get("cell"):
        query = query.where(Case.grid_code == request.args["cell"][:20])
    else:
        s, w, n, e = _bbox()
        query = query.where(Case.lat.between(s, n), Case.lon.between(w, e))
    with transaction(runtime().sessions) as db:
        rows = db.execute(query.order_by(Case.id.desc()).limit(MAX_CASES + 1)).all()
    features = []
    for r in rows[:MAX_CASES]:
        lat, lon = point(r.lat, r.lon, crs)
        features.append({"type": "Feature", "geometry": {"type": "Point", "coordinates": [lon, lat]},
                         "properties": {"number": r.number, "status": str(r.status),
                                        "category": r.category_name or "", "grid": r.grid_code,
                                        "created": r.created_at.isoformat(timespec="minutes")}})
    return jsonify({"type": "FeatureCollection", "features": features,
                    "truncated": len(rows) > MAX_CASES})


@bp.get("/map/roads.geojson")
@require("operator")
def map_roads():
    rt = runtime()
    response = jsonify(gazetteer_geojson(rt.geo.gazetteer, rt.settings.map.crs))
    response.cache_control.max_age, response.cache_control.private = 3600, True
    return response
