"""gunicorn configuration for one gateway host: `gunicorn -c deploy/gunicorn.conf.py`.

Exactly what `gridintake serve` runs (gateway/server.py `gunicorn_settings`: workers and threads
from `[server]`, 60 s timeout, the classifier and gazetteer loaded before a worker takes
requests); the address and the rest come from the systemd unit's environment file
(deploy/gridintake.env). nginx in front buffers slow clients (deploy/nginx.conf)."""

import os

from gateway.runtime import Runtime
from gateway.server import gunicorn_settings

_server = Runtime.from_env().settings.server
globals().update(gunicorn_settings(_server.workers, _server.threads))
wsgi_app = "gateway.app:create_app()"
bind = os.environ.get("GRIDINTAKE_BIND", "127.0.0.1:8080")  # nginx on the same host
forwarded_allow_ips = "127.0.0.1"  # trust X-Forwarded-* from the local nginx only
accesslog = "-"

# Limits kept in memory are divided among the workers (bot/rate_limits.py); with Redis this is moot.
os.environ["GRIDINTAKE_LIMITS_PROCESSES"] = str(_server.workers)
