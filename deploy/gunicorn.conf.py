"""gunicorn configuration for one gateway host: `gunicorn -c deploy/gunicorn.conf.py`.

The same settings `gridintake serve` uses (gateway/server.py: sync workers, 60 s timeout, the
classifier and gazetteer loaded before a worker takes requests); the address, worker count and
data come from the environment file of the systemd unit (deploy/gridintake.env)."""

import os

from gateway.server import SETTINGS

wsgi_app = "gateway.app:create_app()"
bind = os.environ.get("GRIDINTAKE_BIND", "127.0.0.1:8080")  # nginx in front, on the same host
workers = int(os.environ.get("GRIDINTAKE_SERVER_WORKERS", "2"))
worker_class = "sync"  # nginx buffers slow clients, so a sync worker is never held by one
backlog = SETTINGS["backlog"]
timeout = SETTINGS["timeout"]
graceful_timeout = SETTINGS["graceful_timeout"]
control_socket_disable = SETTINGS["control_socket_disable"]
post_worker_init = SETTINGS["post_worker_init"]
forwarded_allow_ips = "127.0.0.1"  # trust X-Forwarded-* from the local nginx only
accesslog = "-"

# Limits kept in memory are divided among the workers (bot/rate_limits.py); with Redis this is moot.
os.environ["GRIDINTAKE_LIMITS_PROCESSES"] = str(workers)
