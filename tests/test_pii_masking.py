"""Phone, ID card and licence plate numbers in a resident's words reach the platform masked
(webhook document and Open311 description, delivered to a loopback receiver); the case keeps
the words as typed for staff, and a deployment can turn masking off."""

from __future__ import annotations

import pytest

from cases.pii import mask_personal_data
from tests.forwarding_fixtures import build_env

TEXT = "九州路井盖丢了，我电话13812345678，身份证410611199001011234，车牌豫F12345的车压坏的"
MASKED = "九州路井盖丢了，我电话138****5678，身份证410611********1234，车牌豫F***45的车压坏的"


@pytest.mark.parametrize(("typed", "masked"), [
    (TEXT, MASKED),
    ("座机0392-3312345，或者+86 139 0000 1111", "座机0392-***2345，或者139****1111"),
    ("豫F·A1234X 乱停", "豫F****4X 乱停"),
    *[(kept, kept) for kept in ("案件GI-20261204-000003，订单20261204000003，井盖3个",)],
])
def test_masking(typed, masked):
    assert mask_personal_data(typed) == masked


@pytest.mark.parametrize("mask", [True, False])
def test_the_platform_gets_masked_words_and_the_case_keeps_them(tmp_path, receiver, mask):
    env = build_env(tmp_path / "var", None, receiver,
                    GRIDINTAKE_OPEN311_ENDPOINT=receiver.url + "/open311",
                    GRIDINTAKE_FORWARDING_MASK_PERSONAL_DATA="true" if mask else "false")
    number = env.file(TEXT)
    env.drain()
    [created] = env.receiver.webhook("case.created")
    [request] = [s for s in env.receiver.requests if s.path.endswith("requests.json")]
    expected = MASKED if mask else TEXT
    assert created.json()["case"]["text"] == expected
    assert request.form["description"] == expected
    assert env.case(number).text == TEXT
    env.runtime.db.dispose()
