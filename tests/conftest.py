"""Shared fixtures: a migrated database (SQLite and, where marked, PostgreSQL) and a runtime."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa

from gateway.runtime import Runtime
from settings.config import load_config
from tests.support.browser import chromium_page
from tests.support.database import PG_SERVER, prepare, sqlite_url
from tests.support.database import pg_schema as pooled_schema
from tests.support.dependencies import REQUIRE_ENV, is_missing_dependency, missing

pytest_plugins = ["pytester", "tests.tgemu.fixtures", "tests.forwarding_fixtures", "tests.support.admin",
                  "tests.support.sms", "tests.support.pgcluster", "tests.support.wechat",
                  "tests.support.cnsms"]


def _postgres_available() -> str | None:
    try:
        engine = sa.create_engine(PG_SERVER, connect_args={"connect_timeout": 3})
        with engine.connect():
            pass
        engine.dispose()
    except Exception as exc:  # any failure to connect means: skip with the reason
        return f"PostgreSQL at 127.0.0.1:5432/test ({exc.__class__.__name__})"
    return None


@contextmanager
def pg_schema(migrated: bool = True) -> Iterator[str]:
    """A PostgreSQL schema of the test's own in the local `test` database: migrated and empty
    (from tests/support/database.py's pool), or bare."""
    reason = _postgres_available()
    if reason:
        missing("PostgreSQL", reason)
    with pooled_schema(migrated) as url:
        yield url


@pytest.fixture
def postgres_url() -> Iterator[str]:
    with pg_schema() as url:
        yield url


def make_runtime(data_dir: Path, database_url: str | None = None, **env: str) -> Runtime:
    environ = {"GRIDINTAKE_DATA_DIR": str(data_dir), **env}
    if database_url:
        environ["GRIDINTAKE_DATABASE_URL"] = database_url
    runtime = Runtime(load_config(env=environ))
    prepare(runtime.config.database_url)
    return runtime


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request, tmp_path) -> Iterator[str]:
    """Each storage test runs once on SQLite and once on PostgreSQL (a schema of its own),
    migrated."""
    if request.param == "sqlite":
        yield sqlite_url(tmp_path / "test.db")
        return
    with pg_schema() as url:
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def bare_database_url(request, tmp_path) -> Iterator[str]:
    """An empty database, never migrated, on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'bare.db'}"
        return
    with pg_schema(migrated=False) as url:
        yield url


@pytest.fixture
def runtime(tmp_path) -> Iterator[Runtime]:
    rt = make_runtime(tmp_path / "var")
    yield rt
    rt.db.dispose()


@pytest.fixture
def any_runtime(tmp_path, database_url) -> Iterator[Runtime]:
    """A runtime on SQLite and on PostgreSQL in turn."""
    rt = make_runtime(tmp_path / "var", database_url)
    yield rt
    rt.db.dispose()


@pytest.fixture
def page() -> Iterator:
    """A headless Chromium page (tests/support/browser.py)."""
    yield from chromium_page()


def pytest_collection_modifyitems(items) -> None:
    """Browser and emulator tests are slow too: `make test-fast` leaves them out."""
    for item in items:
        if item.get_closest_marker("browser") or item.get_closest_marker("emulator"):
            item.add_marker(pytest.mark.slow)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Under `make test` (GRIDINTAKE_REQUIRE_TEST_DEPS=1) a skip for a missing dependency fails."""
    outcome = yield
    report = outcome.get_result()
    if report.skipped and os.environ.get(REQUIRE_ENV) == "1":
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        if is_missing_dependency(reason):
            report.outcome = "failed"
            report.longrepr = f"{reason}\n(make test installs this; the run is incomplete without it)"
