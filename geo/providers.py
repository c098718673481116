"""Network geocoders through geopy: Nominatim (self-hosted domain) and Baidu (BaiduV3).

Each provider states the CRS of its answers (Baidu answers in BD-09) and every result is
converted to WGS-84, scoped to the city's bounding box, rate limited with geopy's
RateLimiter, bounded by a timeout and cached in the database.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlsplit

from geopy.exc import GeopyError
from geopy.extra.rate_limiter import RateLimiter
from geopy.geocoders import BaiduV3, Nominatim

from geo.cache import GeocodeCacheStore, query_key
from geo.coords import to_wgs84
from geo.text import normalize
from geo.types import GeoResult

log = logging.getLogger(__name__)
USER_AGENT = "gridintake/0.1 (city grid management intake)"
PUBLIC_NOMINATIM = "nominatim.openstreetmap.org"
# Answers this far outside the city's box (degrees, ~2 km) are another city's.
BBOX_MARGIN = 0.02

Bbox = tuple[float, float, float, float]


def split_domain(value: str) -> tuple[str, str]:
    """'http://127.0.0.1:8080' → ('http', '127.0.0.1:8080'); no scheme means https."""
    if "://" in value:
        parts = urlsplit(value)
        return parts.scheme, parts.netloc + parts.path.rstrip("/")
    return "https", value.rstrip("/")


class RemoteGeocoder:
    """One geopy geocoder behind the service's interface."""

    def __init__(self, name: str, geocode: Any, crs: str, bbox: Bbox, min_delay_s: float,
                 cache: GeocodeCacheStore | None = None, params: dict[str, Any] | None = None,
                 prefix: str = ""):
        self.provider = name
        self.crs = crs
        self.bbox = bbox
        self.cache = cache
        self.params = params or {}
        self.prefix = prefix
        self._call = RateLimiter(geocode, min_delay_seconds=min_delay_s, max_retries=0,
                                 swallow_exceptions=False)

    def _scope(self) -> str:
        return ",".join(f"{v:.4f}" for v in self.bbox)

    def geocode(self, text: str) -> GeoResult | None:
        query = normalize(text)
        if not query:
            return None
        key = query_key(self.provider, query, self._scope())
        if self.cache is not None:
            hit, cached = self.cache.get(self.provider, key)
            if hit:
                return cached
        try:
            location = self._call(self.prefix + query, **self.params)
        except GeopyError as exc:  # timeouts, refusals, quota: not cached, tried again later
            log.warning("%s geocoder failed for %r: %s", self.provider, query, exc)
            return None
        result = self._result(location) if location is not None else None
        if self.cache is not None:
            self.cache.put(self.provider, key, query, result,
                           payload=getattr(location, "raw", None))
        return result

    def _inside(self, lat: float, lon: float) -> bool:
        lat_min, lon_min, lat_max, lon_max = self.bbox
        m = BBOX_MARGIN
        return lat_min - m <= lat <= lat_max + m and lon_min - m <= lon <= lon_max + m

    def _result(self, location: Any) -> GeoResult | None:
        lat, lon = to_wgs84(location.latitude, location.longitude, self.crs)
        if not self._inside(lat, lon):
            log.info("%s answer %s,%s is outside the city", self.provider, lat, lon)
            return None
        return GeoResult(lat=lat, lon=lon, provider=self.provider,
                         confidence=_confidence(self.provider, location.raw or {}),
                         matched=str(location.address or ""))


def _confidence(provider: str, raw: dict[str, Any]) -> float:
    """The provider's own precision signal mapped onto 0..1."""
    if provider == "baidu":
        return max(0.0, min(1.0, float(raw.get("confidence", 50)) / 100.0))
    rank = int(raw.get("place_rank", 0) or 0)
    return 0.85 if rank >= 26 else 0.6 if rank >= 19 else 0.3


def nominatim(domain: str, timeout_s: float, bbox: Bbox,
              cache: GeocodeCacheStore | None) -> RemoteGeocoder:
    scheme, netloc = split_domain(domain or PUBLIC_NOMINATIM)
    geocoder = Nominatim(domain=netloc, scheme=scheme, timeout=timeout_s, user_agent=USER_AGENT)
    lat_min, lon_min, lat_max, lon_max = bbox
    params = {"viewbox": [(lat_min, lon_min), (lat_max, lon_max)], "bounded": True,
              "language": "zh"}
    # The public server's usage policy is one request a second; a self-hosted one allows more.
    delay = 1.0 if netloc == PUBLIC_NOMINATIM else 0.05
    return RemoteGeocoder("nominatim", geocoder.geocode, "wgs84", bbox, delay, cache, params)


def baidu(api_key: str, timeout_s: float, bbox: Bbox, city: str,
          cache: GeocodeCacheStore | None, domain: str = "") -> RemoteGeocoder:
    scheme, netloc = split_domain(domain) if domain else ("https", "")
    kwargs: dict[str, Any] = {"api_key": api_key, "timeout": timeout_s, "scheme": scheme,
                              "user_agent": USER_AGENT}
    geocoder = BaiduV3(**kwargs)
    if netloc:
        geocoder.api = f"{scheme}://{netloc}{geocoder.api_path}"
    # Baidu has no bounding box parameter: the city name leads the query instead.
    prefix = city.split()[0] if city else ""
    return RemoteGeocoder("baidu", geocoder.geocode, "bd09", bbox, 0.05, cache, prefix=prefix)
