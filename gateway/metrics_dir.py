"""prometheus-client's multiprocess mode: gunicorn workers and the outbox worker of one host
write their counters to files in one directory, and a scrape of any worker sums them. The
mode is chosen when prometheus-client is imported, so this module imports none of it and
`use_shared_dir` runs first (`gridintake serve`, `gridintake worker`)."""

from __future__ import annotations

import os
from pathlib import Path

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def use_shared_dir(directory: str) -> None:
    """Multiprocess mode for this process and its children. Live-gauge files of processes no
    longer running are removed; counters and histograms stay, so their totals keep counting."""
    path = Path(directory)
    path.mkdir(parents=True, exist_ok=True)
    for file in path.glob("gauge_live*.db"):
        pid = file.stem.rsplit("_", 1)[-1]
        if pid.isdigit() and not _alive(int(pid)):
            file.unlink(missing_ok=True)
    os.environ[MULTIPROC_ENV] = str(path)


def use_configured_dir() -> None:
    """`use_shared_dir` with `[metrics] dir`, read before any runtime (which imports the engine
    and so prometheus-client) is built."""
    from settings.config import load_config
    from settings.typed import MetricsSettings

    use_shared_dir(MetricsSettings.from_config(load_config()).dir)


def worker_exited(_server, worker) -> None:
    """gunicorn's child_exit: drop the dead worker's live gauges."""
    if MULTIPROC_ENV in os.environ:
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
