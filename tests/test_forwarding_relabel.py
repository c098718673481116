"""An administrator relabels a case from the review queue: the due time follows the new class's
time limit, a case event records it, and the platform is told in the same transaction."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.i18n import t
from bot.signing import HEADER, verify
from gateway.admin.review import decide
from gateway.forwarding import platform_for
from storage.db import transaction
from storage.models import Case, CaseEvent, Outbox
from tests.forwarding_fixtures import WEBHOOK_SECRET

OLD, NEW = "component:0101", "component:0104"  # time limits 2 h and 4 h


def _review(env, number: str, label: str, fail: bool = False) -> None:
    with transaction(env.runtime.sessions) as session:
        case = session.scalar(select(Case).where(Case.number == number))
        decide(session, env.runtime.tree(), case, label, "admin:ops", platform_for(env.runtime))
        if fail:
            raise RuntimeError("rolled back")


def _rows(env, number: str) -> list[Outbox]:
    with transaction(env.runtime.sessions) as session:
        case_id = session.scalar(select(Case.id).where(Case.number == number))
        return list(session.scalars(select(Outbox).where(Outbox.case_id == case_id)
                                    .order_by(Outbox.id)))


def test_relabel_after_forwarding_recomputes_due_and_sends_a_signed_update(fwd):
    number = fwd.file(label=OLD)
    fwd.drain()
    assert [s.json()["case"]["label"] for s in fwd.receiver.webhook("case.created")] == [OLD]

    _review(fwd, number, NEW)

    case = fwd.case(number)
    assert case.label == NEW and case.major == "01" and case.minor == "0104"
    assert case.due_at == case.created_at + timedelta(hours=4)
    [event] = [e for e in case.events if e.status == "relabeled"]
    assert event.actor == "admin:ops"
    assert event.data["from"] == OLD and event.data["to"] == NEW
    assert event.data["due_at"] == case.due_at.isoformat()

    fwd.drain()
    [update] = fwd.receiver.webhook("case.updated")
    verify(WEBHOOK_SECRET, update.headers[HEADER], update.body)
    body = update.json()
    assert body["number"] == number and body["data"]["reason"] == "relabel"
    assert body["data"]["case"]["label"] == NEW
    assert body["data"]["case"]["due_at"].startswith(case.due_at.isoformat()[:16])
    assert len(fwd.receiver.webhook("case.created")) == 1


def test_a_shorter_limit_that_has_passed_flags_the_case_overdue_at_once(fwd):
    number = fwd.file(label=NEW)  # 4 h to handle it
    with transaction(fwd.runtime.sessions) as session:
        case = session.scalar(select(Case).where(Case.number == number))
        case.created_at -= timedelta(hours=3)
    _review(fwd, number, OLD)  # 2 h: an hour late already
    case = fwd.case(number)
    assert case.overdue and [e.status for e in case.events][-2:] == ["relabeled", "overdue"]
    assert case.events[-1].data["late_hours"] == pytest.approx(1.0, abs=0.1)
    fwd.drain()
    [notice] = fwd.receiver.webhook("case.overdue")
    assert notice.json()["number"] == number


def test_residents_behind_an_open_case_hear_of_the_new_class(fwd):
    number = fwd.file(label=OLD, sender="tg-1", language="en")
    fwd.file(label=OLD, lat=35.7472, channel="sms", sender="+8613900000001", language="zh")
    _review(fwd, number, NEW)
    fwd.drain()
    tree = fwd.runtime.tree()
    assert [m["text"] for m in fwd.residents.to("tg-1")] == [
        t("case_relabeled", "en", number=number, category_en=tree.get(NEW).name_en)]
    assert [m["text"] for m in fwd.residents.to("+8613900000001")] == [
        t("case_relabeled", "zh", number=number, category_zh=tree.get(NEW).name_zh)]
    _review(fwd, number, NEW)  # confirming the class tells nobody anything
    fwd.drain()
    assert len(fwd.residents.to("tg-1")) == 1


def test_a_relabel_after_closure_is_not_announced(fwd):
    number = fwd.file(label=OLD, sender="tg-1")
    with transaction(fwd.runtime.sessions) as session:
        session.scalar(select(Case).where(Case.number == number)).status = "closed"
    _review(fwd, number, NEW)
    fwd.drain()
    assert fwd.residents.to("tg-1") == []


def test_relabel_before_the_worker_ran_rewrites_the_pending_creation(fwd):
    number = fwd.file(label=OLD)
    _review(fwd, number, NEW)
    assert [r.idempotency_key for r in _rows(fwd, number) if r.sink == "webhook"] == \
        [f"webhook:case:{number}"]
    fwd.drain()
    assert [s.json()["case"]["label"] for s in fwd.receiver.webhook("case.created")] == [NEW]
    assert fwd.receiver.webhook("case.updated") == []


def test_confirming_the_label_changes_nothing_for_the_platform(fwd):
    number = fwd.file(label=OLD)
    fwd.drain()
    due = fwd.case(number).due_at
    _review(fwd, number, OLD)
    case = fwd.case(number)
    assert case.due_at == due and not [e for e in case.events if e.status == "relabeled"]
    assert len(_rows(fwd, number)) == 1


def test_a_failed_review_leaves_no_event_and_no_delivery(fwd):
    number = fwd.file(label=OLD)
    fwd.drain()
    with pytest.raises(RuntimeError):
        _review(fwd, number, NEW, fail=True)
    case = fwd.case(number)
    assert case.label == OLD
    with transaction(fwd.runtime.sessions) as session:
        assert session.scalar(select(CaseEvent).where(CaseEvent.status == "relabeled")) is None
    assert len(_rows(fwd, number)) == 1
