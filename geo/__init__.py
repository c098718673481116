"""Geo layer: place words or pins → a WGS-84 point and a unit grid cell."""

from __future__ import annotations

from geo.gazetteer import demo_path, load_gazetteer
from geo.service import GeoConfigError, GeoService, build_geo
from geo.types import GeoResult, GridCell

__all__ = ["GeoConfigError", "GeoResult", "GeoService", "GridCell", "build_geo",
           "gazetteer_names"]


def gazetteer_names(path: str = "") -> list[str]:
    """Every road, landmark, 小区 and district name and alias (for the NLP dictionary)."""
    return load_gazetteer(path or str(demo_path())).names()
