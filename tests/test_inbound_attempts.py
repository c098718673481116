"""Inbound retries end: a message whose processing keeps failing is retried until it failed
`inbound_max_attempts` times, then stays `failed` with its reason, listed by
`gridintake inbound list --failed` and processed again by `inbound retry ID|--all-failed`."""

from __future__ import annotations

import io
import json
import logging
from datetime import timedelta

from sqlalchemy import select

from bot.handlers.console.handler import run
from gateway.cli import main as cli
from storage.db import transaction
from storage.models import InboundMessage
from tests.conftest import make_runtime


def _rows(runtime) -> list[InboundMessage]:
    with transaction(runtime.sessions) as session:
        return list(session.scalars(select(InboundMessage).order_by(InboundMessage.id)))


def test_failing_messages_stop_being_retried_and_can_be_retried_by_hand(tmp_path, monkeypatch, capsys,
                                                                       caplog):
    runtime = make_runtime(tmp_path / "var", GRIDINTAKE_BOT_INBOUND_MAX_ATTEMPTS="3")

    def broken(text):
        raise RuntimeError("classifier unavailable")

    monkeypatch.setattr(runtime.intake, "classify", broken)
    for sender in ("a", "b"):
        run(runtime.engine, ["淇滨大道与九州路交叉口的井盖坏了\n"], io.StringIO(), sender=sender)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="bot.engine"):
        for _ in range(4):  # the worker's minute job, four times
            runtime.engine.retry_pending(older_than=timedelta(0))
    rows = _rows(runtime)
    assert [(r.status, r.attempts) for r in rows] == [("failed", 3), ("failed", 3)]
    assert all("classifier unavailable" in r.error for r in rows)
    # a traceback at a message's first failure only, then one line per failure
    assert not any(r.exc_info for r in caplog.records if r.name == "bot.engine")
    assert sum("left as failed" in r.getMessage() for r in caplog.records) == 2

    monkeypatch.setenv("GRIDINTAKE_DATA_DIR", str(tmp_path / "var"))
    capsys.readouterr()
    assert cli(["inbound", "list", "--failed"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert listed["total"] == 2 and {r["attempts"] for r in listed["rows"]} == {3}

    monkeypatch.undo()
    monkeypatch.setenv("GRIDINTAKE_DATA_DIR", str(tmp_path / "var"))
    assert cli(["inbound", "retry", str(rows[0].id)]) == 0
    assert json.loads(capsys.readouterr().out)["retried"] == 1
    assert [r.status for r in _rows(runtime)] == ["processed", "failed"]
    assert cli(["inbound", "retry", "--all-failed"]) == 0
    assert json.loads(capsys.readouterr().out)["retried"] == 1
    assert [r.status for r in _rows(runtime)] == ["processed", "processed"]
    assert cli(["inbound", "retry", str(rows[0].id)]) == 1  # nothing failed left
    runtime.db.dispose()
