"""Failed sign-ins over real HTTP, counted in Redis by two gateways (two workers): limits per
account and per address+account, so a flood on one account or from one address never locks
out a different account — not even one behind the same address."""

from __future__ import annotations

import re
import uuid
from contextlib import ExitStack

import httpx
import pytest

from gateway.admin.users import set_user
from storage.db import transaction
from tests.conftest import make_runtime
from tests.support.http import live_gateway
from tests.support.services import require_redis

REDIS = "redis://127.0.0.1:6379/0"
PASSWORD = "correct horse battery"


@pytest.fixture
def gateways(tmp_path):
    require_redis(REDIS)
    runtime = make_runtime(tmp_path / "var", GRIDINTAKE_RATE_LIMIT_STORAGE=REDIS,
                           GRIDINTAKE_ADMIN_LOGIN_LIMIT_PER_ACCOUNT="8/15 minutes",
                           GRIDINTAKE_ADMIN_LOGIN_LIMIT_PER_ADDRESS="5/5 minutes")
    second = make_runtime(tmp_path / "var", GRIDINTAKE_RATE_LIMIT_STORAGE=REDIS,
                          GRIDINTAKE_ADMIN_LOGIN_LIMIT_PER_ACCOUNT="8/15 minutes",
                          GRIDINTAKE_ADMIN_LOGIN_LIMIT_PER_ADDRESS="5/5 minutes")
    tag = uuid.uuid4().hex[:8]  # Redis outlives the test: names of our own
    names = {who: f"{who}-{tag}" for who in ("ann", "bob", "eve")}
    with transaction(runtime.sessions) as session:
        for name in names.values():
            set_user(session, name, "admin", PASSWORD, "test")
    with ExitStack() as stack:
        bases = [stack.enter_context(live_gateway(r)) for r in (runtime, second)]
        yield bases, names
    runtime.db.dispose()
    second.db.dispose()


def login(base: str, name: str, password: str, source: str = "127.0.0.1") -> int:
    transport = httpx.HTTPTransport(local_address=source)
    with httpx.Client(base_url=base, transport=transport) as client:
        page = client.get("/admin/login").text
        token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        return client.post("/admin/login", data={"name": name, "password": password,
                                                 "csrf_token": token}).status_code


def test_failures_on_one_account_block_only_that_account_on_every_worker(gateways):
    (first, second), names = gateways
    codes = [login((first, second)[i % 2], names["eve"], "wrong guess") for i in range(6)]
    assert codes == [401] * 5 + [429]  # counted across both workers
    assert login(second, names["eve"], PASSWORD) == 429  # even the right password waits
    assert login(first, names["ann"], PASSWORD) == 302  # same address, another account
    assert login(first, names["eve"], PASSWORD, source="127.0.0.2") == 302  # another address


def test_a_flood_from_one_address_never_locks_out_another_account(gateways):
    (first, _), names = gateways
    for n in range(40):
        assert login(first, f"admin{n}-{uuid.uuid4().hex[:4]}", "guess") == 401
    for n in range(5):
        login(first, names["bob"], f"guess {n}")
    assert login(first, names["bob"], PASSWORD) == 429
    assert login(first, names["ann"], PASSWORD) == 302  # the real admin, same address


def test_guessing_one_account_from_many_addresses_hits_the_account_limit(gateways):
    (first, _), names = gateways
    for n in range(8):
        assert login(first, names["eve"], "guess", source=f"127.0.0.{10 + n % 2}") == 401
    assert login(first, names["eve"], PASSWORD, source="127.0.0.20") == 429
    assert login(first, names["ann"], PASSWORD, source="127.0.0.10") == 302
