"""NUL and lone surrogates become U+FFFD in every stored field, on SQLite and PostgreSQL: a raw
message (columns and JSON payload), a status note from the platform."""

from __future__ import annotations

from sqlalchemy import select

from bot.inbox import Inbox
from bot.types import Inbound
from gateway.app import create_app
from storage.db import transaction
from storage.models import CaseEvent, InboundMessage
from storage.text import REPLACEMENT, dumps, storable
from tests.forwarding_fixtures import post_event

BROKEN = "井盖\x00坏了\ud83d，\udc00快来"
CLEAN = f"井盖{REPLACEMENT}坏了{REPLACEMENT}，{REPLACEMENT}快来"


def test_storable_cleans_nested_values_and_leaves_good_text_alone():
    good = {"text": "正常 text 😀", "n": [1, "a\\u0000b"]}  # an escaped backslash is text, kept
    assert storable(good) == good and dumps(good) == '{"text": "正常 text 😀", "n": [1, "a\\\\u0000b"]}'
    assert storable({"k\x00": [BROKEN, (BROKEN,)]}) == {f"k{REPLACEMENT}": [CLEAN, (CLEAN,)]}
    assert dumps({"t": BROKEN}) == f'{{"t": "{CLEAN}"}}'


def test_a_raw_message_with_unstorable_characters_is_kept(any_runtime):
    inbox = Inbox(any_runtime.sessions, any_runtime.config.data_dir / "raw")
    inbound = Inbound(channel="telegram", sender="42\x00", key="42:1", text=BROKEN,
                      payload={"message": {"text": BROKEN, "caption\x00": None}})
    recorded = inbox.record(inbound)
    with transaction(any_runtime.sessions) as session:
        row = session.get(InboundMessage, recorded.id)
        assert row.text == CLEAN and row.sender == f"42{REPLACEMENT}"
        assert row.payload["text"] == CLEAN
        assert row.payload["raw"] == {"message": {"text": CLEAN, f"caption{REPLACEMENT}": None}}
    assert inbox.record(inbound).id == recorded.id  # a replay finds the same row


def test_a_status_note_with_unstorable_characters_is_stored(fwd):
    api = create_app(fwd.runtime).test_client()
    number = fwd.file()
    answer = post_event(api, number, {"status": "handled", "note": BROKEN,
                                      "department": "市政\x00设施"})
    assert answer.status_code == 200
    with transaction(fwd.runtime.sessions) as session:
        event = session.scalars(select(CaseEvent).order_by(CaseEvent.id.desc())).first()
        assert (event.note, event.department) == (CLEAN, f"市政{REPLACEMENT}设施")
