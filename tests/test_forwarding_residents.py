"""Residents hear about progress, closure and duplicates; ratings go back to the platform."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from bot.engine import Engine
from bot.i18n import t
from bot.types import Inbound
from cases.status import apply_status
from gateway.app import create_app
from gateway.cli import main as cli
from gateway.forwarding import rating_listeners
from settings.typed import BotSettings
from storage.db import transaction
from storage.models import Case, CaseFollower, Conversation, Outbox, Reporter
from tests.forwarding_fixtures import post_event, runtime_env, signed_post


@pytest.fixture
def api(fwd):
    return create_app(fwd.runtime).test_client()


def _status(env, number: str, status: str, **fields) -> None:
    with transaction(env.runtime.sessions) as session:
        case = session.scalar(select(Case).filter_by(number=number))
        apply_status(session, case, status, **fields)


def test_progress_and_closure_reach_reporter_and_followers(fwd, api):
    original = fwd.file("九州路口的井盖坏了", channel="telegram", sender="tg-1", language="en")
    duplicate = fwd.file("九州路口井盖坏了，很危险", lat=35.7472, channel="sms", sender="+8613900000001",
                         language="zh")
    assert fwd.case(duplicate).duplicate_of.number == original
    post_event(api, original, {"status": "dispatched", "department": "市政设施管理处"})
    post_event(api, original, {"status": "in_progress"})
    fwd.drain()
    en, zh = fwd.residents.to("tg-1"), fwd.residents.to("+8613900000001")
    assert [m["sink"] for m in en] == ["telegram", "telegram"]
    assert [m["sink"] for m in zh] == ["sms", "sms"]
    assert en[0]["text"] == t("case_dispatched", "en", number=original, department="市政设施管理处")
    assert zh[0]["text"] == t("case_dispatched", "zh", number=original, department="市政设施管理处")
    assert "in progress" in en[1]["text"] and "处置中" in zh[1]["text"]
    assert en[0]["language"] == "en" and zh[0]["language"] == "zh"

    post_event(api, original, {"status": "closed", "note": "已修复"})
    fwd.drain()
    rate = fwd.residents.to("tg-1")[-1]
    # the platform's note travels with the closure, in the duplicate's reporter's notice too
    assert rate["text"] == t("rate_request", "en", number=original, photo="",
                             note=t("note_words", "en", note="已修复"))
    assert [c["key"] for c in rate["choices"]] == ["1", "2", "3", "4", "5"]
    assert fwd.residents.to("+8613900000001")[-1]["text"] == t(
        "rate_request", "zh", number=original, photo="", note=t("note_words", "zh", note="已修复"))
    with transaction(fwd.runtime.sessions) as session:
        states = {c.reporter_id: (c.state, c.slots) for c in session.scalars(select(Conversation))}
    assert sorted(states.values(), key=str) == [("rating", {"case": original})] * 2
    # Re-running the worker sends nothing again.
    sent = len(fwd.residents.sent)
    fwd.drain()
    assert len(fwd.residents.sent) == sent


def test_rating_goes_back_to_the_platform(fwd):
    number = fwd.file(channel="telegram", sender="tg-9")
    fwd.drain()
    _status(fwd, number, "closed")
    engine = Engine(fwd.runtime.sessions, fwd.intake, BotSettings(), fwd.runtime.config.data_dir)
    engine.rating_listeners.extend(rating_listeners(fwd.runtime))
    outcome = engine.handle(Inbound(channel="telegram", sender="tg-9", key="u-1", text="2 还是有点晃"))
    assert outcome.replies[0].text == t("rated", "zh")
    fwd.drain()
    [notice] = fwd.receiver.webhook("case.rated")
    assert notice.json()["number"] == number
    assert notice.json()["data"] == {"rating": 2, "comment": "还是有点晃", "not_satisfied": True}
    assert fwd.case(number).rating == 2


def test_no_messages_without_consent_or_channel(fwd):
    silent = fwd.file(channel="telegram", sender="tg-2", consent=False)
    web = fwd.file("路灯不亮", label="event:0102", lat=35.80, channel="web", sender="w-1", phone=None)
    hotline = fwd.file("路灯不亮", label="event:0102", lat=35.85, channel="hotline", sender="call-1",
                       phone="13700000000")
    for number in (silent, web, hotline):
        _status(fwd, number, "filed")
    fwd.drain()
    assert [m["target"] for m in fwd.residents.sent] == ["13700000000"]  # hotline caller, by SMS
    assert fwd.residents.sent[0]["sink"] == "sms"


def test_unreachable_resident_is_marked_and_skipped(fwd):
    number = fwd.file(channel="telegram", sender="tg-blocked")
    fwd.residents.blocked.add("tg-blocked")
    _status(fwd, number, "filed")
    fwd.drain()
    with transaction(fwd.runtime.sessions) as session:
        reporter = session.scalar(select(Reporter).filter_by(channel_user_id="tg-blocked"))
        assert reporter.unreachable
        [row] = session.scalars(select(Outbox).where(Outbox.sink == "telegram")).all()
        assert row.status == "done" and "unreachable" in row.last_error
    _status(fwd, number, "dispatched", department="市政设施管理处")
    with transaction(fwd.runtime.sessions) as session:
        assert len(session.scalars(select(Outbox).where(Outbox.sink == "telegram")).all()) == 1


@pytest.mark.parametrize(("change", "linked"), [
    ({}, True),
    ({"lat": 35.7470 + 0.0018}, False),  # about 200 m away
    ({"label": "component:0102"}, False),  # another class
    ({"text": "绿化带里有人乱倒建筑垃圾还占道"}, False),  # dissimilar words
])
def test_duplicate_linking_rules(fwd, change, linked):
    original = fwd.file("九州路口的井盖坏了", sender="a")
    again = {"text": "九州路口井盖坏了", "lat": 35.7472, "sender": "b", **change}
    duplicate = fwd.file(**again)
    case = fwd.case(duplicate)
    assert (case.duplicate_of is not None) == linked
    if linked:
        assert case.duplicate_of.number == original
        assert [e.status for e in case.events] == ["accepted", "linked"]
        assert fwd.case(original).events[-1].data == {"duplicate": duplicate}
        fwd.drain()
        document = fwd.receiver.webhook("case.created")[-1].json()["case"]
        assert document["duplicate_of"] == original


def test_a_resident_follows_an_original_once(fwd):
    """Another duplicate from a follower, or one from the original's own reporter, adds no
    second follower; each is still linked."""
    original = fwd.file("九州路口的井盖坏了", sender="a")
    again = [fwd.file(text, lat=35.7472, sender=sender) for text, sender in [
        ("九州路口井盖坏了", "b"), ("九州路口井盖还是坏的", "b"), ("九州路口井盖坏了没人修", "a")]]
    assert [fwd.case(n).duplicate_of.number for n in again] == [original] * 3
    with transaction(fwd.runtime.sessions) as session:
        followers = session.scalars(select(Reporter.channel_user_id).join(
            CaseFollower, CaseFollower.reporter_id == Reporter.id)).all()
    assert followers == ["b"]


def test_closed_cases_take_no_duplicates(fwd):
    original = fwd.file(sender="a")
    _status(fwd, original, "closed")
    assert fwd.case(fwd.file(sender="b")).duplicate_of is None


def test_unlink_via_the_api_and_the_cli(fwd, api, monkeypatch, capsys):
    original = fwd.file(sender="a")
    first = fwd.file(sender="b", channel="sms")
    second = fwd.file(sender="c", channel="sms")
    answer = signed_post(api, f"/api/v1/cases/{first}/unlink", {})
    assert answer.status_code == 200 and answer.json["duplicate_of"] is None
    assert signed_post(api, f"/api/v1/cases/{first}/unlink", {}).status_code == 409
    for name, value in {**runtime_env(fwd.receiver),
                        "GRIDINTAKE_DATABASE_URL": fwd.runtime.config.database_url,
                        "GRIDINTAKE_DATA_DIR": str(fwd.runtime.config.data_dir)}.items():
        monkeypatch.setenv(name, value)
    capsys.readouterr()
    assert cli(["case", "unlink", second]) == 0
    assert json.loads(capsys.readouterr().out)["duplicate_of"] is None
    with transaction(fwd.runtime.sessions) as session:
        assert session.scalars(select(CaseFollower)).all() == []
    fwd.drain()
    assert [m["text"] for m in fwd.residents.to("b")] == [
        t("case_unlinked", "zh", number=first, original=original)]
    # Unlinked reporters no longer hear about the original.
    _status(fwd, original, "filed")
    fwd.drain()
    assert len(fwd.residents.to("b")) == 1 and len(fwd.residents.to("a")) == 1
