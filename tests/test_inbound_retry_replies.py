"""Replies to a message processed by `retry_pending` reach the resident through the outbox: the
webhook answer that should have carried them was lost with the crash. The live path still answers
synchronously and writes nothing to the outbox."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.handlers.sms import handler as sms
from bot.handlers.sms.rules import phone_opted_out
from bot.types import Inbound, Reply
from storage.db import transaction
from storage.models import InboundMessage, Outbox

REPORT = "淇滨大道与九州路交叉口的井盖坏了"
PHONE = "+8613800001234"


def left_received(rt, inbound: Inbound) -> int:
    """What a crash leaves behind: the raw message committed, never processed."""
    return rt.engine.inbox.record(inbound).id


def retry(rt) -> None:
    rt.engine.retry_pending(timedelta(0))


def outbox(rt) -> list[Outbox]:
    with transaction(rt.sessions) as session:
        return session.scalars(select(Outbox).order_by(Outbox.id)).all()


def stored_replies(rt, inbound_id: int) -> list[Reply]:
    with transaction(rt.sessions) as session:
        row = session.get(InboundMessage, inbound_id)
        assert row.status == "processed"
        return [Reply.from_json(r) for r in row.replies]


@pytest.mark.parametrize(("channel", "sender", "phone", "target"), [
    ("telegram", "424242", None, "424242"),
    ("sms", PHONE, PHONE, PHONE),
    ("generic_sms", "13800001234", PHONE, "13800001234"),
])
def test_retried_replies_are_queued_once_for_the_resident(runtime, channel, sender, phone, target):
    inbound_id = left_received(runtime, Inbound(channel, sender, "k1", text=REPORT, phone=phone))
    retry(runtime)
    retry(runtime)  # a second pass finds nothing to do and queues nothing more
    [row] = outbox(runtime)
    replies = stored_replies(runtime, inbound_id)
    assert (row.sink, row.target, row.idempotency_key) == (channel, target, f"replies:{inbound_id}")
    assert row.status == "pending" and row.case_id is None
    assert row.payload["text"] == "\n\n".join(r.text for r in replies)
    assert "回复1提交" in row.payload["text"]
    assert row.payload["choices"] == [{"key": c.key, "label": c.label} for c in replies[-1].choices]


def test_a_replay_after_the_retry_queues_nothing_more(runtime):
    inbound = Inbound("telegram", "424242", "k1", text=REPORT)
    left_received(runtime, inbound)
    retry(runtime)
    outcome = runtime.engine.handle(inbound)  # Telegram delivers the same update again
    assert outcome.replayed and len(outbox(runtime)) == 1


def test_the_live_path_answers_itself_and_queues_nothing(runtime):
    outcome = runtime.engine.handle(Inbound("telegram", "424242", "k1", text=REPORT))
    assert outcome.replies and outbox(runtime) == []


def test_an_opted_out_number_gets_nothing(runtime):
    stop = sms.handle(runtime, Inbound("sms", PHONE, "SM1", text="STOP", phone=PHONE))
    assert stop.replies == []
    inbound_id = left_received(runtime, Inbound("sms", PHONE, "SM2", text=REPORT, phone=PHONE))
    retry(runtime)
    assert stored_replies(runtime, inbound_id) and outbox(runtime) == []


def test_channels_without_a_push_path_keep_the_stored_replies(runtime):
    inbound_id = left_received(runtime, Inbound("console", "local", "c1", text=REPORT))
    retry(runtime)
    assert stored_replies(runtime, inbound_id) and outbox(runtime) == []


@pytest.mark.parametrize(("channel", "sender", "confirmation"), [
    ("sms", PHONE, False),  # Twilio confirms an opt-out itself
    ("generic_sms", "13800001234", True),
])
def test_a_stop_left_by_a_crash_is_still_an_opt_out(runtime, channel, sender, confirmation):
    inbound_id = left_received(runtime, Inbound(channel, sender, "SM1", text="STOP", phone=PHONE))
    retry(runtime)
    replies = stored_replies(runtime, inbound_id)
    assert bool(replies) is confirmation and all("回复1提交" not in r.text for r in replies)
    with transaction(runtime.sessions) as session:
        assert phone_opted_out(session, PHONE)
    later = left_received(runtime, Inbound(channel, sender, "SM2", text=REPORT, phone=PHONE))
    retry(runtime)
    assert stored_replies(runtime, later) and outbox(runtime) == []  # opted out: nothing sent
