"""A local metric plane (equirectangular about the city's centre).

Distances, snapping and offsets are all in metres; over a city (tens of km) the
distortion of this projection stays far below the accuracy of any input.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

M_PER_DEG_LAT = 110574.0
M_PER_DEG_LON_EQUATOR = 111320.0


@dataclass(frozen=True)
class LocalProjection:
    lat0: float
    lon0: float

    @classmethod
    def around(cls, bounds: tuple[float, float, float, float]) -> LocalProjection:
        """Centre of shapely-style bounds (minx=lon, miny=lat, maxx, maxy)."""
        minx, miny, maxx, maxy = bounds
        return cls(lat0=(miny + maxy) / 2, lon0=(minx + maxx) / 2)

    @property
    def kx(self) -> float:
        return M_PER_DEG_LON_EQUATOR * math.cos(math.radians(self.lat0))

    def xy(self, lat, lon):
        """WGS-84 → metres (x east, y north); scalars or numpy arrays."""
        return (np.asarray(lon) - self.lon0) * self.kx, (np.asarray(lat) - self.lat0) * M_PER_DEG_LAT

    def latlon(self, x: float, y: float) -> tuple[float, float]:
        return float(self.lat0 + y / M_PER_DEG_LAT), float(self.lon0 + x / self.kx)

    def to_metric(self, geom: BaseGeometry) -> BaseGeometry:
        """A lon/lat geometry in metres."""
        kx, lat0, lon0 = self.kx, self.lat0, self.lon0

        def fwd(coords: np.ndarray) -> np.ndarray:
            return np.column_stack(((coords[:, 0] - lon0) * kx, (coords[:, 1] - lat0) * M_PER_DEG_LAT))

        return shapely.transform(geom, fwd)

    def to_lonlat(self, geom: BaseGeometry) -> BaseGeometry:
        """A metric geometry back in lon/lat (the inverse of `to_metric`)."""
        kx, lat0, lon0 = self.kx, self.lat0, self.lon0

        def back(coords: np.ndarray) -> np.ndarray:
            return np.column_stack((coords[:, 0] / kx + lon0, coords[:, 1] / M_PER_DEG_LAT + lat0))

        return shapely.transform(geom, back)
