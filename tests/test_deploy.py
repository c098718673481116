"""deploy/: the gunicorn configuration loads the gateway, and every systemd unit starts a command
that exists, so the files cannot drift away from the code unnoticed."""

from __future__ import annotations

import configparser
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"
BIN = Path(sys.executable).parent


def test_gunicorn_configuration_loads_the_gateway(tmp_path):
    env = {**os.environ, "GRIDINTAKE_DATA_DIR": str(tmp_path), "PYTHONPATH": str(DEPLOY.parent)}
    check = subprocess.run([str(BIN / "gunicorn"), "--check-config", "-c", str(DEPLOY / "gunicorn.conf.py")],
                           cwd=DEPLOY.parent, env=env, capture_output=True, text=True, timeout=120)
    assert check.returncode == 0, check.stderr


@pytest.mark.parametrize("unit", sorted(p.name for p in (DEPLOY / "systemd").glob("*.service")))
def test_each_unit_starts_a_command_that_exists(unit):
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.read(DEPLOY / "systemd" / unit)
    service = parser["Service"]
    assert service["EnvironmentFile"] == "/etc/gridintake/gridintake.env"
    program, *args = shlex.split(service["ExecStart"])
    assert program.startswith("/opt/gridintake/.venv/bin/")
    local = BIN / Path(program).name
    options = [a for a in args if a.startswith("-")]
    command = [str(local), *[a for a in args if not a.startswith("-")], "--help"]
    if local.name == "gunicorn":
        command = [str(local), "--help"]
        assert options == ["-c"] and args[1] == "deploy/gunicorn.conf.py"
    answer = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert answer.returncode == 0, answer.stderr


def test_gunicorn_configuration_is_what_serve_runs(tmp_path):
    env = {**os.environ, "GRIDINTAKE_DATA_DIR": str(tmp_path), "GRIDINTAKE_SERVER_WORKERS": "3",
           "GRIDINTAKE_SERVER_THREADS": "4", "PYTHONPATH": str(DEPLOY.parent)}
    shown = subprocess.run([str(BIN / "gunicorn"), "--print-config", "-c", str(DEPLOY / "gunicorn.conf.py")],
                           cwd=DEPLOY.parent, env=env, capture_output=True, text=True, timeout=120)
    assert shown.returncode == 0, shown.stderr
    settings = {k.strip(): v.strip() for k, v in (line.split("=", 1) for line in shown.stdout.splitlines()
                                                 if " = " in line)}
    assert (settings["workers"], settings["threads"], settings["worker_class"]) == ("3", "4", "gthread")
    assert settings["timeout"] == "60" and settings["bind"] == "['127.0.0.1:8080']"
