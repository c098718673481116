"""WGS-84 ↔ GCJ-02 ↔ BD-09 with the published algorithms.

GCJ-02 is WGS-84 plus an obfuscating shift (Krasovsky ellipsoid constants of the
original algorithm); BD-09 adds Baidu's rotation on top of GCJ-02. Neither has an
analytic inverse, so the inverses iterate until the forward transform of the guess
lands within 1e-9 degrees (≈0.1 mm) of the input. Outside mainland China nothing is
shifted, as the maps there publish plain WGS-84.
"""

from __future__ import annotations

import math

CRS = ("wgs84", "gcj02", "bd09")

_A = 6378245.0  # semi-major axis used by the GCJ-02 algorithm
_EE = 0.00669342162296594323  # its eccentricity squared
_X_PI = math.pi * 3000.0 / 180.0
_TOLERANCE = 1e-9
_MAX_ITER = 30

# The rectangle of the published algorithm, minus boxes inside it that are not mainland
# China and publish WGS-84 maps (lat_min, lon_min, lat_max, lon_max). Coarse on purpose:
# it must be right for cities, not for border posts.
_CHINA = (0.8293, 72.004, 55.8271, 137.8347)
_NOT_MAINLAND = (
    (0.0, 72.0, 18.1, 138.0),  # South-East Asia, south of Hainan
    (18.1, 72.0, 21.0, 108.0),  # Vietnam, Laos, Myanmar, Thailand
    (18.1, 111.3, 21.0, 138.0),  # sea east of Hainan, Luzon
    (20.1, 102.1, 22.3, 106.5),  # northern Vietnam
    (0.0, 72.0, 26.8, 97.3),  # Indian subcontinent, Bangladesh
    (26.8, 80.0, 28.0, 88.1),  # Nepal
    (26.8, 72.0, 35.0, 78.0),  # Kashmir, Punjab
    (41.3, 72.0, 56.0, 79.8),  # Kazakhstan, Kyrgyzstan
    (47.5, 72.0, 56.0, 85.5),  # Kazakhstan, Russia west of the Altai
    (45.2, 87.8, 52.0, 111.5),  # Mongolia
    (43.0, 96.0, 45.2, 111.0),  # southern Mongolia
    (53.6, 72.0, 56.0, 138.0),  # Siberia
    (42.3, 134.8, 48.4, 138.0),  # Russian Far East east of the Ussuri
    (42.3, 133.5, 45.9, 134.8),  # Primorye
    (42.3, 131.3, 44.8, 133.5),  # Vladivostok
    (21.85, 119.9, 25.35, 122.1),  # Taiwan
    (22.15, 113.83, 22.49, 114.45),  # Hong Kong (south of the Shenzhen river)
    (22.1, 113.52, 22.21, 113.6),  # Macau
    (33.0, 124.6, 39.8, 131.0),  # Korean peninsula below the Yalu estuary
    (24.0, 129.5, 42.3, 138.0),  # Japan and the sea east of Jilin
)


def in_mainland_china(lat: float, lon: float) -> bool:
    lat_min, lon_min, lat_max, lon_max = _CHINA
    if not (lat_min <= lat <= lat_max and lon_min <= lon <= lon_max):
        return False
    return not any(a <= lat <= c and b <= lon <= d for a, b, c, d in _NOT_MAINLAND)


def _shift(lat: float, lon: float) -> tuple[float, float]:
    """The GCJ-02 offset (dlat, dlon) in degrees at a WGS-84 point."""
    x, y = lon - 105.0, lat - 35.0
    common = (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    dlat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * math.sqrt(abs(x))
    dlat += common
    dlat += (20.0 * math.sin(y * math.pi) + 40.0 * math.sin(y / 3.0 * math.pi)) * 2.0 / 3.0
    dlat += (160.0 * math.sin(y / 12.0 * math.pi) + 320.0 * math.sin(y * math.pi / 30.0)) * 2.0 / 3.0
    dlon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * math.sqrt(abs(x))
    dlon += common
    dlon += (20.0 * math.sin(x * math.pi) + 40.0 * math.sin(x / 3.0 * math.pi)) * 2.0 / 3.0
    dlon += (150.0 * math.sin(x / 12.0 * math.pi) + 300.0 * math.sin(x / 30.0 * math.pi)) * 2.0 / 3.0
    rad = lat / 180.0 * math.pi
    magic = 1.0 - _EE * math.sin(rad) ** 2
    sqrt_magic = math.sqrt(magic)
    dlat = (dlat * 180.0) / ((_A * (1.0 - _EE)) / (magic * sqrt_magic) * math.pi)
    dlon = (dlon * 180.0) / (_A / sqrt_magic * math.cos(rad) * math.pi)
    return dlat, dlon


def wgs84_to_gcj02(lat: float, lon: float) -> tuple[float, float]:
    if not in_mainland_china(lat, lon):
        return lat, lon
    dlat, dlon = _shift(lat, lon)
    return lat + dlat, lon + dlon


def _gcj02_to_bd09_raw(lat: float, lon: float) -> tuple[float, float]:
    z = math.hypot(lon, lat) + 0.00002 * math.sin(lat * _X_PI)
    theta = math.atan2(lat, lon) + 0.000003 * math.cos(lon * _X_PI)
    return z * math.sin(theta) + 0.006, z * math.cos(theta) + 0.0065


def _bd09_to_gcj02_raw(lat: float, lon: float) -> tuple[float, float]:
    """Baidu's published approximate inverse; used as the first guess."""
    x, y = lon - 0.0065, lat - 0.006
    z = math.hypot(x, y) - 0.00002 * math.sin(y * _X_PI)
    theta = math.atan2(y, x) - 0.000003 * math.cos(x * _X_PI)
    return z * math.sin(theta), z * math.cos(theta)


def gcj02_to_bd09(lat: float, lon: float) -> tuple[float, float]:
    if not in_mainland_china(lat, lon):
        return lat, lon
    return _gcj02_to_bd09_raw(lat, lon)


def _invert(forward, lat: float, lon: float, guess: tuple[float, float]) -> tuple[float, float]:
    """Fixed-point iteration: move the guess by the forward transform's residual."""
    glat, glon = guess
    for _ in range(_MAX_ITER):
        flat, flon = forward(glat, glon)
        elat, elon = flat - lat, flon - lon
        if abs(elat) < _TOLERANCE and abs(elon) < _TOLERANCE:
            break
        glat, glon = glat - elat, glon - elon
    return glat, glon


def gcj02_to_wgs84(lat: float, lon: float) -> tuple[float, float]:
    if not in_mainland_china(lat, lon):
        return lat, lon
    return _invert(wgs84_to_gcj02, lat, lon, (lat, lon))


def bd09_to_gcj02(lat: float, lon: float) -> tuple[float, float]:
    if not in_mainland_china(lat, lon):
        return lat, lon
    return _invert(_gcj02_to_bd09_raw, lat, lon, _bd09_to_gcj02_raw(lat, lon))


def wgs84_to_bd09(lat: float, lon: float) -> tuple[float, float]:
    return gcj02_to_bd09(*wgs84_to_gcj02(lat, lon))


def bd09_to_wgs84(lat: float, lon: float) -> tuple[float, float]:
    return gcj02_to_wgs84(*bd09_to_gcj02(lat, lon))


_TO_WGS = {"wgs84": lambda lat, lon: (lat, lon), "gcj02": gcj02_to_wgs84, "bd09": bd09_to_wgs84}
_FROM_WGS = {"wgs84": lambda lat, lon: (lat, lon), "gcj02": wgs84_to_gcj02, "bd09": wgs84_to_bd09}


def convert(lat: float, lon: float, src: str, dst: str) -> tuple[float, float]:
    """Any of `CRS` to any other, through WGS-84."""
    for name in (src, dst):
        if name not in CRS:
            raise ValueError(f"unknown coordinate system {name!r}; use one of {', '.join(CRS)}")
    if not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0):
        raise ValueError(f"latitude {lat} / longitude {lon} out of range")
    if src == dst:
        return lat, lon
    return _FROM_WGS[dst](*_TO_WGS[src](lat, lon))


def to_wgs84(lat: float, lon: float, crs: str) -> tuple[float, float]:
    return convert(lat, lon, crs, "wgs84")


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres (haversine)."""
    r = 6371008.8
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * r * math.asin(math.sqrt(h))
