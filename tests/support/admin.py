"""The admin app with an administrator ("ann") and an operator ("otto"), and signing in."""

from __future__ import annotations

import re

import pytest

from gateway.admin.users import set_user
from gateway.app import create_app
from storage.db import transaction

PASSWORD = "correct horse battery"


@pytest.fixture
def app(runtime):
    with transaction(runtime.sessions) as session:
        set_user(session, "ann", "admin", PASSWORD, "test")
        set_user(session, "otto", "operator", PASSWORD, "test")
    app = create_app(runtime)
    app.testing = True
    return app


def _token(page: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def login(client, name: str = "ann", password: str = PASSWORD) -> str:
    """Sign in and return the session's CSRF token."""
    token = _token(client.get("/admin/login").text)
    answer = client.post("/admin/login", data={"name": name, "password": password, "csrf_token": token})
    assert answer.status_code == 302, answer.text
    return _token(client.get("/admin/cases").text)
