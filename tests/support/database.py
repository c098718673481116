"""Migrate once per test process (each xdist worker), not once per test.

A new SQLite database is a copy of a template migrated at first use. A PostgreSQL schema comes
from a pool of migrated schemas: a test gets one of its own, and when it gives it back the
tables are emptied with TRUNCATE, or the schema is dropped if the test migrated it elsewhere
(a downgrade) or left a lock that keeps TRUNCATE waiting.
"""

from __future__ import annotations

import atexit
import contextlib
import shutil
import sqlite3
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa

from storage.migrate import upgrade

PG_SERVER = "postgresql+psycopg2://postgres@127.0.0.1:5432/test"
_migrated: set[str] = set()  # URLs handed out already at the head revision
_template: Path | None = None
_pool: list[str] = []  # migrated PostgreSQL schemas not in use
_leftover: list[str] = []  # schemas a test left locked, dropped at exit
_admin: sa.Engine | None = None


def _sqlite_path(url: str) -> Path | None:
    prefix = "sqlite:///"
    return Path(url.removeprefix(prefix)) if url.startswith(prefix) else None


def _sqlite_template() -> Path:
    global _template
    if _template is None:
        folder = Path(tempfile.mkdtemp(prefix="gridintake-template-"))
        atexit.register(shutil.rmtree, folder, True)
        path = folder / "template.db"
        upgrade(f"sqlite:///{path}")
        _template = path
    return _template


def prepare(url: str) -> None:
    """Bring the database at ``url`` to the head revision, by the cheapest way available."""
    if url in _migrated:
        return
    path = _sqlite_path(url)
    if path is not None and not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        with sqlite3.connect(_sqlite_template()) as source, sqlite3.connect(path) as target:
            source.backup(target)  # WAL and all: a consistent copy
        source.close()
        target.close()
    else:
        upgrade(url)
    _migrated.add(url)


def sqlite_url(path: Path) -> str:
    """A migrated SQLite database at ``path``."""
    url = f"sqlite:///{path}"
    prepare(url)
    return url


def _admin_engine() -> sa.Engine:
    global _admin
    if _admin is None:
        _admin = sa.create_engine(PG_SERVER)
        atexit.register(_drop_pool)
    return _admin


def _url(schema: str) -> str:
    return f"{PG_SERVER}?options=-csearch_path%3D{schema}"


def _new_schema() -> str:
    schema = f"t_{uuid.uuid4().hex[:10]}"
    with _admin_engine().begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    return schema


def _drop(schema: str) -> None:
    with _admin_engine().begin() as conn:
        conn.execute(sa.text("SET LOCAL lock_timeout = '5s'"))
        conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))


def _drop_pool() -> None:
    _pool.extend(_leftover)
    while _pool:
        with contextlib.suppress(sa.exc.DBAPIError):  # the server went away first
            _drop(_pool.pop())
    if _admin is not None:
        _admin.dispose()


def _empty(schema: str, head: str) -> bool:
    """TRUNCATE every table but Alembic's; False when the schema cannot be reused."""
    with _admin_engine().begin() as conn:
        conn.execute(sa.text("SET LOCAL lock_timeout = '2s'"))
        tables = conn.scalars(sa.text(
            "SELECT tablename FROM pg_tables WHERE schemaname = :s AND tablename <> 'alembic_version'"
        ), {"s": schema}).all()
        versions = conn.scalars(sa.text(
            "SELECT 1 FROM pg_tables WHERE schemaname = :s AND tablename = 'alembic_version'"
        ), {"s": schema}).all()
        if not versions or _version(conn, schema) != head:
            return False
        if tables:
            listed = ", ".join(f'"{schema}"."{t}"' for t in tables)
            conn.execute(sa.text(f"TRUNCATE {listed} RESTART IDENTITY CASCADE"))
    return True


def _version(conn: sa.Connection, schema: str) -> str | None:
    return conn.scalar(sa.text(f'SELECT version_num FROM "{schema}".alembic_version'))


def _head(schema: str) -> str:
    with _admin_engine().connect() as conn:
        return _version(conn, schema)


@contextmanager
def pg_schema(migrated: bool = True) -> Iterator[str]:
    """A PostgreSQL schema of the test's own: migrated and empty, or bare (``migrated=False``)."""
    if not migrated:
        schema = _new_schema()
        try:
            yield _url(schema)
        finally:
            _drop(schema)
        return
    if _pool:
        schema = _pool.pop()
    else:
        schema = _new_schema()
        upgrade(_url(schema))
    head = _head(schema)
    _migrated.add(_url(schema))
    try:
        yield _url(schema)
    finally:
        _give_back(schema, head)


def _give_back(schema: str, head: str) -> None:
    try:
        if _empty(schema, head):
            _pool.append(schema)
            return
        _drop(schema)
    except sa.exc.DBAPIError:  # a lock left behind: dropped at exit, the next test starts afresh
        _leftover.append(schema)
