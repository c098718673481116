"""A private PostgreSQL cluster (initdb + pg_ctl as the `postgres` user, a temporary folder, a
free port) for tests that stop, restart or kill the database; the shared server stays untouched."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.dependencies import missing
from tests.support.processes import free_port


def _pg_bin() -> Path | None:
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).resolve().parent
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))
    return versions[-1].parent if versions else None


@dataclass
class Cluster:
    bin: Path
    root: Path
    port: int

    @property
    def url(self) -> str:
        # named after the cluster's folder: a later cluster on the same port is another database
        return (f"postgresql+psycopg2://postgres@127.0.0.1:{self.port}/postgres"
                f"?application_name={self.root.name}")

    def _ctl(self, *args: str) -> None:
        subprocess.run(["runuser", "-u", "postgres", "--", str(self.bin / "pg_ctl"), "-D",
                        str(self.root / "data"), "-l", str(self.root / "log"), *args],
                       check=True, capture_output=True, timeout=60)

    def start(self) -> None:
        options = (f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off "
                   "-c synchronous_commit=off -c full_page_writes=off")
        self._ctl("-w", "-o", options, "start")

    def stop(self, mode: str = "fast") -> None:
        self._ctl("-w", "-m", mode, "stop")

    def restart(self, mode: str = "fast") -> None:
        self.stop(mode)
        self.start()

    @property
    def log(self) -> str:
        path = self.root / "log"
        return path.read_text(errors="replace") if path.exists() else ""


@contextmanager
def private_cluster() -> Iterator[Cluster]:
    """A fresh cluster, trust authentication on 127.0.0.1, removed afterwards."""
    pg_bin = _pg_bin()
    if pg_bin is None or shutil.which("runuser") is None:
        missing("PostgreSQL", "initdb/pg_ctl and runuser are needed for a private cluster")
    root = Path(tempfile.mkdtemp(prefix="gridintake-pg-"))
    shutil.chown(root, "postgres", "postgres")
    cluster = Cluster(pg_bin, root, free_port())
    try:
        subprocess.run(["runuser", "-u", "postgres", "--", str(pg_bin / "initdb"), "-D",
                        str(root / "data"), "-A", "trust", "-U", "postgres", "--no-sync",
                        "-E", "UTF8", "--locale=C"], check=True, capture_output=True, timeout=120)
        cluster.start()
        yield cluster
    finally:
        with contextlib.suppress(subprocess.CalledProcessError):  # already stopped
            cluster.stop("immediate")
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def pg_cluster() -> Iterator[Cluster]:
    with private_cluster() as cluster:
        yield cluster
