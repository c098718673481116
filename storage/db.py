"""Engines and sessions: SQLite (WAL) embedded by default, PostgreSQL for real deployments."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import closing, contextmanager

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import Session, sessionmaker

from storage import text
from storage.text import storable_parameters

PING_AFTER_IDLE_S = 5.0


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def ping_when_idle(engine: Engine, idle_seconds: float) -> None:
    """Check a pooled connection before use only when it has been idle a while (a restarted
    server, a firewall dropping quiet connections). `pool_pre_ping` pings at every checkout: a
    round trip per transaction on a busy webhook, for connections used a moment ago."""

    def stamp(_dbapi_connection, record) -> None:
        record.info["used_at"] = time.monotonic()

    event.listen(engine, "connect", stamp)  # a fresh connection needs no ping
    event.listen(engine, "checkin", stamp)

    @event.listens_for(engine, "checkout")
    def ping(dbapi_connection, record, _proxy) -> None:
        if time.monotonic() - record.info["used_at"] < idle_seconds:
            return
        try:
            with closing(dbapi_connection.cursor()) as cursor:
                cursor.execute("SELECT 1")
        except Exception as exc:  # any failure: the pool replaces the connection and retries
            raise DisconnectionError(str(exc)) from exc


def storable_text(engine: Engine) -> None:
    """NUL and lone surrogates become U+FFFD in every value written (storage/text.py)."""

    @event.listens_for(engine, "before_cursor_execute", retval=True)
    def clean(_conn, _cursor, statement, parameters, _context, _executemany):
        return statement, storable_parameters(parameters)


def make_engine(url: str, *, ping_after_idle_s: float = PING_AFTER_IDLE_S, **kwargs) -> Engine:
    kwargs.setdefault("json_serializer", text.dumps)
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 10, "check_same_thread": False}, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        storable_text(engine)
        return engine
    engine = create_engine(url, **kwargs)
    ping_when_idle(engine, ping_after_idle_s)
    storable_text(engine)
    return engine


def autocommit_twin(engine: Engine) -> Engine:
    """A second pool on the same database whose connections stay in autocommit, for single
    statements that commit themselves: no BEGIN and COMMIT round trips around them. Switching a
    connection of the main pool instead (``execution_options(isolation_level=...)``) costs a
    round trip back to the default isolation at every return to the pool."""
    return make_engine(engine.url.render_as_string(hide_password=False),
                       isolation_level="AUTOCOMMIT")


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session that commits on success and rolls back on any error."""
    with factory() as session, session.begin():
        yield session
