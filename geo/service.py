"""The geo layer as the rest of gridintake sees it: geocode, locate a pin, reverse."""

from __future__ import annotations

import logging
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any

from geo.cache import GeocodeCacheStore
from geo.coords import to_wgs84
from geo.gazetteer import Gazetteer, demo_path
from geo.grid import GridError, GridIndex, SquareGrid
from geo.offline import GazetteerGeocoder
from geo.providers import RemoteGeocoder, baidu, nominatim
from geo.reverse import ReverseGeocoder
from geo.types import GeoResult
from settings.typed import GeoSettings

log = logging.getLogger(__name__)
DEMO_GRIDS = "hebi_grids.geojson"
IMPORTED_GRIDS = "grids.geojson"  # in the data directory, written by `grids import`
# Prefix of fallback square-grid codes when a city has no polygons (no county code known).
SQUARE_PREFIX = "000000"
PROVIDERS = ("gazetteer", "nominatim", "baidu")


class GeoConfigError(Exception):
    """A [city] or [geocoding] setting cannot be used; the message says which."""


def demo_grids_path() -> Path:
    return Path(str(resources.files("geo").joinpath("data", DEMO_GRIDS)))


def grids_source(settings: GeoSettings) -> Path | None:
    """Imported grids, else the configured file, else the demo city (None: square grid)."""
    imported = Path(settings.data_dir) / IMPORTED_GRIDS
    if imported.is_file():
        return imported
    if settings.grids:
        return Path(settings.grids)
    if settings.bbox:
        return None
    return demo_grids_path()


def _bbox(settings: GeoSettings) -> tuple[float, ...]:
    if settings.bbox and len(settings.bbox) != 4:
        raise GeoConfigError("city.bbox must have 4 numbers: lat_min, lon_min, lat_max, lon_max")
    return settings.bbox


def load_grid(settings: GeoSettings) -> GridIndex | SquareGrid:
    digits = settings.grid_code_serial_digits
    source = grids_source(settings)
    if source is None:
        return SquareGrid(_bbox(settings), SQUARE_PREFIX, digits, city=settings.city)
    try:
        return GridIndex.from_file(source, settings.snap_distance_m, digits)
    except GridError as exc:
        raise GeoConfigError(f"{exc} — fix the file or city.grids") from None


class GeoService:
    def __init__(self, grid: GridIndex | SquareGrid, gazetteer: Gazetteer,
                 remote: RemoteGeocoder | None = None, bbox: tuple[float, ...] | None = None,
                 min_confidence: float = 0.6):
        self._grid = grid
        # Returns newer grids when another host imported them (None: keep these); set by the
        # gateway's runtime, which knows where shared grids are kept.
        self.follow: Callable[[], GridIndex | SquareGrid | None] | None = None
        self.gazetteer = gazetteer
        self.offline = GazetteerGeocoder(gazetteer)
        self.remote = remote
        self._reverse = ReverseGeocoder(gazetteer)
        self.bbox = tuple(bbox) if bbox else grid.bbox
        self.min_confidence = min_confidence

    @property
    def grid(self) -> GridIndex | SquareGrid:
        """The city's grid cells, the newest imported ones when `follow` is set."""
        if self.follow is not None and (newer := self.follow()) is not None:
            self._grid = newer
        return self._grid

    def geocode(self, text: str) -> GeoResult | None:
        """The configured provider first; the offline gazetteer when that finds nothing or
        is unsure, keeping the more confident of the two."""
        if not text or not text.strip():
            return None
        result = self.remote.geocode(text) if self.remote else None
        if result is None or result.confidence < self.min_confidence:
            offline = self.offline.geocode(text)
            if offline is not None and (result is None or offline.confidence > result.confidence):
                result = offline
        if result is None:
            return None
        result.cell = self.grid.lookup(result.lat, result.lon)
        result.address = self.reverse(result.lat, result.lon)
        return result

    def locate(self, lat: float, lon: float, crs: str = "wgs84") -> GeoResult:
        """A pin (Telegram location, EXIF GPS, map click) with its cell and words."""
        wlat, wlon = to_wgs84(float(lat), float(lon), crs)
        address = self.reverse(wlat, wlon)
        return GeoResult(lat=wlat, lon=wlon, provider="pin", confidence=1.0,
                         matched=address or f"{wlat:.6f},{wlon:.6f}",
                         cell=self.grid.lookup(wlat, wlon), address=address)

    def reverse(self, lat: float, lon: float) -> str | None:
        return self._reverse.describe(lat, lon)


def build_geo(settings: GeoSettings, session_factory: Any = None) -> GeoService:
    grid = load_grid(settings)
    gazetteer = Gazetteer.from_file(Path(settings.gazetteer) if settings.gazetteer else demo_path())
    scope = _bbox(settings) or grid.bbox
    provider = settings.provider
    if provider not in PROVIDERS:
        raise GeoConfigError(f"geocoding.provider={provider!r}: use one of {', '.join(PROVIDERS)}")
    cache = GeocodeCacheStore(session_factory) if session_factory is not None else None
    remote = None
    if provider == "nominatim":
        remote = nominatim(settings.nominatim_domain, settings.timeout_s, scope, cache)
    elif provider == "baidu":
        if not settings.baidu_ak:
            raise GeoConfigError("geocoding.provider=baidu needs the key in GRIDINTAKE_BAIDU_AK")
        remote = baidu(settings.baidu_ak, settings.timeout_s, scope, settings.city, cache)
    return GeoService(grid, gazetteer, remote, scope, settings.min_confidence)
