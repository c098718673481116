"""Geo layer: place words or pins → a WGS-84 point and a unit grid cell."""

from __future__ import annotations

from typing import Any

from geo.gazetteer import demo_path, load_gazetteer
from geo.service import GeoConfigError, GeoService, build_geo
from geo.types import GeoResult, GridCell

__all__ = ["GeoConfigError", "GeoResult", "GeoService", "GridCell", "build_geo",
           "gazetteer_names"]


def gazetteer_names(config: Any = None) -> list[str]:
    """Every road, landmark, 小区 and district name and alias (for the NLP dictionary)."""
    path = (config.get("city", "gazetteer") if config is not None else "") or str(demo_path())
    return load_gazetteer(str(path)).names()
