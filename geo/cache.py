"""Geocoding results of network providers, cached in the database (table geocode_cache).

Providers are slow, rate-limited and sometimes paid, and residents repeat the same
places; misses are cached too, but only for a day, since a provider's data improves.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from geo.types import GeoResult

log = logging.getLogger(__name__)
MISS_TTL = timedelta(days=1)


def query_key(provider: str, query: str, scope: str) -> str:
    return hashlib.sha256(f"{provider}\x1f{scope}\x1f{query}".encode()).hexdigest()


class GeocodeCacheStore:
    """get/put around a SQLAlchemy sessionmaker; any database error degrades to no cache."""

    def __init__(self, session_factory: Any):
        from storage.models import GeocodeCache  # lazily: geo works without storage

        self.factory = session_factory
        self.model = GeocodeCache

    def get(self, provider: str, key: str) -> tuple[bool, GeoResult | None]:
        """(hit?, result); a hit with None is a cached miss."""
        try:
            with self.factory() as session:
                row = session.query(self.model).filter_by(provider=provider, query_key=key).first()
        except SQLAlchemyError as exc:
            log.warning("geocode cache unavailable: %s", exc)
            return False, None
        if row is None:
            return False, None
        if row.lat is None or row.lon is None:
            created = row.created_at or datetime.now(UTC)
            if datetime.now(UTC) - created > MISS_TTL:
                return False, None
            return True, None
        return True, GeoResult(lat=row.lat, lon=row.lon, provider=provider,
                               confidence=row.confidence, matched=row.matched or "")

    def put(self, provider: str, key: str, query: str, result: GeoResult | None,
            payload: Any = None) -> None:
        try:
            with self.factory() as session, session.begin():
                row = session.query(self.model).filter_by(provider=provider, query_key=key).first()
                if row is None:
                    row = self.model(provider=provider, query_key=key, query=query)
                    session.add(row)
                row.lat = result.lat if result else None
                row.lon = result.lon if result else None
                row.confidence = result.confidence if result else 0.0
                row.matched = result.matched if result else None
                row.payload = payload
                row.created_at = datetime.now(UTC)
        except SQLAlchemyError as exc:
            log.warning("geocode cache not written: %s", exc)
