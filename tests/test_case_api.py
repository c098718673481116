"""`GET /api/v1/cases/<number>` over real HTTP: only staff tokens and the platform's signature
read a case; anyone else gets one and the same 401, whether the case exists or not."""

from __future__ import annotations

import time

import httpx
import pytest

from bot.signing import HEADER, signature
from gateway.case_api import signed_message
from tests.forwarding_fixtures import PLATFORM_SECRET, build_env
from tests.support.http import live_gateway
from tests.support.users import add_user


@pytest.fixture
def api(tmp_path, receiver):
    env = build_env(tmp_path / "var", None, receiver)
    with live_gateway(env.runtime) as base, httpx.Client(base_url=base) as http:
        yield env, http
    env.runtime.db.dispose()


def _signed(path: str, secret: str = PLATFORM_SECRET, at: float | None = None) -> dict[str, str]:
    return {HEADER: signature(secret, signed_message(path), None if at is None else int(at))}


def test_anonymous_callers_learn_nothing(api):
    env, http = api
    number = env.file("九州路口的井盖坏了，我电话13812345678")
    missing = number[:-1] + ("9" if number[-1] != "9" else "8")
    answers = [http.get(f"/api/v1/cases/{n}", headers=h) for n in (number, missing) for h in (
        {}, {"Authorization": "Bearer not-a-token"}, {"Authorization": "Basic YTpi"},
        {HEADER: "t=1,v1=00"})]
    assert {a.status_code for a in answers} == {401}
    assert len({a.content for a in answers}) == 1
    assert all("13812345678" not in a.text and "九州路" not in a.text for a in answers)
    assert answers[0].headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("role", ["operator", "admin"])
def test_staff_tokens_read_a_case(api, role):
    env, http = api
    token = add_user(env.runtime, "staff", role)
    number = env.file()
    auth = {"Authorization": f"Bearer {token}"}
    answer = http.get(f"/api/v1/cases/{number}", headers=auth)
    assert answer.status_code == 200
    assert answer.json()["number"] == number
    assert http.get("/api/v1/cases/GI-20200101-999999", headers=auth).status_code == 404


def test_a_token_of_another_role_is_refused(api):
    env, http = api
    token = add_user(env.runtime, "visitor", "viewer")
    number = env.file()
    assert http.get(f"/api/v1/cases/{number}",
                    headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_the_platform_signs_the_path(api):
    env, http = api
    number = env.file()
    path = f"/api/v1/cases/{number}"
    assert http.get(path, headers=_signed(path)).status_code == 200
    other = env.file("另一个井盖", sender="2002")
    refused = [_signed(f"/api/v1/cases/{other}"),          # signed for another case
               _signed(path, secret="wrong-secret"),
               _signed(path, at=time.time() - 600)]          # outside the replay window
    for headers in refused:
        assert http.get(path, headers=headers).status_code == 401
