"""The gateway served over real HTTP on a loopback port, in a thread of the test process."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from werkzeug.serving import make_server

from gateway.app import create_app


@contextmanager
def live_gateway(runtime, port: int = 0) -> Iterator[str]:
    """Serve `create_app(runtime)` until the block ends; yields the base URL."""
    server = make_server("127.0.0.1", port, create_app(runtime), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=5)
