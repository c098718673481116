"""`gridintake serve`: the gateway under gunicorn, pre-forked gthread workers by default (each
loads its own runtime and classifier; a slow client holds one thread, not the worker), sync ones
with ``--threads 1``, or Werkzeug's development server with ``--workers 0``; beside it, by
default, the outbox worker as a child process (``--no-worker`` when it runs on its own).

The settings live here so the webhook benchmark runs its bare endpoint under exactly these.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from gunicorn.app.base import BaseApplication

from gateway.metrics_dir import worker_exited

log = logging.getLogger(__name__)


@contextmanager
def outbox_worker(enabled: bool) -> Iterator[subprocess.Popen | None]:
    """`gridintake worker` as a child process for as long as the gateway runs: without it no
    case reaches the platform and no resident hears back. Its own process (gunicorn forks; the
    worker's loop and its database connections stay out of the forks); Ctrl-C reaches both, and
    the gateway stopping any other way stops it too."""
    if not enabled:
        yield None
        return
    proc = subprocess.Popen([sys.executable, "-m", "gateway.cli", "worker"])
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                log.warning("outbox worker %s did not stop in 15 s; killed", proc.pid)
                proc.kill()
                proc.wait()


def warm_up(worker: Any) -> None:
    """gunicorn's post_worker_init: load the classifier (models, jieba's dictionary) and the
    gazetteer before the worker takes its first request, so that the first resident after a
    (re)start does not wait a second for them."""
    runtime = getattr(worker.wsgi, "config", {}).get("RUNTIME")
    if runtime is None:  # not the gateway: the benchmark's bare endpoint
        return
    runtime.classify("路灯不亮了")
    runtime.geo  # noqa: B018 - built on first use
    worker.log.info("gridintake worker %s: classifier and gazetteer loaded", worker.pid)


# A webhook holds a worker for milliseconds; 60 s is for a slow MMS media fetch. No control
# socket: its default path is shared by every gunicorn of the user.
SETTINGS: dict[str, Any] = {"backlog": 2048, "timeout": 60, "graceful_timeout": 10,
                            "control_socket_disable": True, "post_worker_init": warm_up,
                            "child_exit": worker_exited}


def gunicorn_settings(workers: int, threads: int = 1) -> dict[str, Any]:
    """Sync workers, or gthread ones with ``threads`` > 1."""
    return {**SETTINGS, "workers": workers, "threads": threads,
            "worker_class": "sync" if threads == 1 else "gthread"}


class Gunicorn(BaseApplication):
    """gunicorn run from Python: each worker builds the app with ``factory`` after the fork, so
    no database connection or model is shared between processes."""

    def __init__(self, factory: Callable[[], Any], bind: str, settings: dict[str, Any]) -> None:
        self.factory = factory
        self.options = {**settings, "bind": bind}
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        return self.factory()


def serve(host: str, port: int, workers: int, threads: int = 1) -> None:
    from gateway.app import create_app

    # Limits kept in memory are divided among the processes that each keep a count.
    os.environ["GRIDINTAKE_LIMITS_PROCESSES"] = str(max(workers, 1))
    if workers < 1:
        create_app().run(host=host, port=port, threaded=True, use_reloader=False)
        return
    Gunicorn(create_app, f"{host}:{port}", gunicorn_settings(workers, threads)).run()
