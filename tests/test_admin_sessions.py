"""Staff sessions over real HTTP: logout and a password reset end every session of the user,
sessions have an idle and an absolute lifetime, and `gridintake users disable|delete` take
effect at the next request, sessions and API token alike."""

from __future__ import annotations

import os
import re
import subprocess

import httpx
import pytest

from gateway.admin import security
from gateway.admin.users import set_user
from storage.db import transaction
from tests.conftest import make_runtime
from tests.support.http import live_gateway
from tests.support.processes import GRIDINTAKE
from tests.support.users import add_user

PASSWORD = "correct horse battery"


@pytest.fixture
def site(tmp_path):
    runtime = make_runtime(tmp_path / "var")
    with transaction(runtime.sessions) as session:
        set_user(session, "ann", "admin", PASSWORD, "test")
    with live_gateway(runtime) as base:
        yield runtime, base
    runtime.db.dispose()


def _csrf(page: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def signed_in(base: str, name: str = "ann", password: str = PASSWORD) -> httpx.Client:
    client = httpx.Client(base_url=base)
    answer = client.post("/admin/login", data={"name": name, "password": password,
                                               "csrf_token": _csrf(client.get("/admin/login").text)})
    assert answer.status_code == 302, answer.text
    assert _works(client)
    return client


def _works(client: httpx.Client) -> bool:
    answer = client.get("/admin/cases")
    return answer.status_code == 200 and "/admin/logout" in answer.text


def _logout(client: httpx.Client) -> None:
    token = _csrf(client.get("/admin/cases").text)
    assert client.post("/admin/logout", data={"csrf_token": token}).status_code == 302


def test_logout_ends_every_session_of_the_user(site):
    _, base = site
    laptop, phone = signed_in(base), signed_in(base)
    copied = httpx.Client(base_url=base, cookies=dict(laptop.cookies))
    assert _works(copied)
    _logout(laptop)
    assert not _works(laptop) and not _works(phone) and not _works(copied)
    assert _works(signed_in(base))  # signing in again works


def test_a_password_reset_ends_every_session(site):
    runtime, base = site
    browser = signed_in(base)
    with transaction(runtime.sessions) as session:
        set_user(session, "ann", "admin", "a brand new password", "test")
    assert not _works(browser)
    assert _works(signed_in(base, password="a brand new password"))


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def time(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch):
    fake = Clock()
    monkeypatch.setattr(security, "time", fake)
    return fake


def test_idle_and_absolute_lifetimes(site, clock):
    _, base = site
    limits = site[0].settings.admin
    browser = signed_in(base)
    clock.now += limits.session_idle_minutes * 60 - 5
    assert _works(browser)  # a request inside the idle window keeps it going
    browser = signed_in(base)
    clock.now += limits.session_idle_minutes * 60 + 1
    assert not _works(browser)
    browser = signed_in(base)
    for _ in range(limits.session_absolute_hours * 60 // limits.session_idle_minutes):
        clock.now += limits.session_idle_minutes * 60 - 5
        _works(browser)  # busy all day long
    assert clock.now - 1_800_000_000.0 > limits.session_absolute_hours * 3600 - 3600
    clock.now += 3600
    assert not _works(browser)


def _cli(runtime, *args: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRIDINTAKE_")}
    env.update(GRIDINTAKE_DATA_DIR=str(runtime.config.data_dir),
               GRIDINTAKE_DATABASE_URL=runtime.config.database_url)
    subprocess.run([str(GRIDINTAKE), *args], env=env, check=True, capture_output=True, timeout=120)


@pytest.mark.parametrize("command", ["disable", "delete"])
def test_users_disable_and_delete_take_effect_at_once(site, command):
    runtime, base = site
    token = add_user(runtime, "otto", "operator")
    with transaction(runtime.sessions) as session:
        set_user(session, "otto", "operator", PASSWORD, "test")
    browser = signed_in(base, "otto")
    bearer = {"Authorization": f"Bearer {token}"}
    assert httpx.get(f"{base}/api/v1/transcripts/categories", headers=bearer, timeout=60).status_code == 200
    _cli(runtime, "users", command, "otto")
    assert not _works(browser)
    assert httpx.get(f"{base}/api/v1/transcripts/categories", headers=bearer, timeout=60).status_code == 403
    assert httpx.get(f"{base}/api/v1/cases/GI-1", headers=bearer).status_code == 401
    login = httpx.Client(base_url=base)
    answer = login.post("/admin/login", data={"name": "otto", "password": PASSWORD,
                                              "csrf_token": _csrf(login.get("/admin/login").text)})
    assert answer.status_code == 401
