"""A channel's shared API credential in the database: read it, or refresh it with every other
process waiting, so one refresh serves them all (a second refresh would void the first token)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from storage.db import transaction
from storage.models import ChannelToken, utcnow

# (token, seconds it lives) from the provider
Fetch = Callable[[], tuple[str, int]]


def _usable(row: ChannelToken | None, margin_s: float) -> str | None:
    if row is None or not row.value or row.expires_at is None:
        return None
    return row.value if row.expires_at - timedelta(seconds=margin_s) > utcnow() else None


def current(factory: sessionmaker[Session], name: str, margin_s: float) -> str | None:
    """The stored token while it has more than ``margin_s`` left, else None."""
    with transaction(factory) as session:
        return _usable(session.get(ChannelToken, name), margin_s)


def refresh(factory: sessionmaker[Session], name: str, fetch: Fetch, *, stale: str | None,
            margin_s: float) -> str:
    """A fresh token: under the row's write lock (a no-op UPDATE first, which PostgreSQL and
    SQLite both serialize), the one another process stored meanwhile, unless it is ``stale``
    (the provider just refused it); else ``fetch`` one and store it."""
    try:
        with transaction(factory) as session:
            session.add(ChannelToken(name=name, refreshes=0))
    except IntegrityError:
        pass  # the row exists
    with transaction(factory) as session:
        session.execute(update(ChannelToken).where(ChannelToken.name == name)
                        .values(refreshes=ChannelToken.refreshes))
        row = session.scalars(select(ChannelToken).where(ChannelToken.name == name)
                              .execution_options(populate_existing=True)).one()
        token = _usable(row, margin_s)
        if token and token != stale:
            return token
        value, lifetime_s = fetch()
        row.value, row.expires_at = value, utcnow() + timedelta(seconds=lifetime_s)
        row.refreshes += 1
        return value

