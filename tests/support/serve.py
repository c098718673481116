"""The gateway served over real HTTP on a loopback port, for the channel tests."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from werkzeug.serving import make_server

from gateway.app import create_app


@contextmanager
def serving(runtime) -> Iterator[str]:
    """The gateway serving on a loopback port (real HTTP, threaded like production), its
    classifier loaded first: a cold start takes longer than WeChat's 5 s."""
    runtime.classify("路灯不亮")
    server = make_server("127.0.0.1", 0, create_app(runtime), threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
