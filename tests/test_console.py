"""Scripted resident conversations on the console channel, in Chinese and English."""

from __future__ import annotations

import io
import re
from datetime import timedelta

import pytest
from PIL import Image
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from bot.handlers.console.handler import run
from storage.db import transaction
from storage.models import Attachment, Case, InboundMessage

NUMBER = re.compile(r"GI-\d{8}-\d{6}")


@pytest.fixture
def runtime(any_runtime):
    """Every conversation here runs on SQLite and on PostgreSQL: the engine writes the
    conversation differently on each."""
    return any_runtime


def chat(runtime, *lines: str, sender: str = "resident-1") -> list[str]:
    out = io.StringIO()
    run(runtime.engine, [line + "\n" for line in lines], out, sender=sender)
    return out.getvalue().splitlines()


def answer_until_filed(runtime, first: str, place: str, sender: str = "resident-1") -> list[str]:
    """Describe, then answer whatever the bot asks (pick 1, give the place, confirm)."""
    output = chat(runtime, first, sender=sender)
    for _ in range(4):
        if NUMBER.search(output[-1]):
            return output
        last = output[-1]
        if "1" in last:  # a pick, a place to confirm, or the final confirmation
            output += chat(runtime, "1", sender=sender)
        else:
            output += chat(runtime, place, sender=sender)
    return output


def only_case(runtime) -> Case:
    with transaction(runtime.sessions) as s:
        cases = s.scalars(select(Case).options(selectinload(Case.events))).all()
        assert len(cases) == 1
        return cases[0]


def test_chinese_report_with_place_in_text_is_filed_with_grid(runtime):
    output = answer_until_filed(runtime, "淇滨大道与九州路交叉口的井盖坏了", "-")
    assert not any("/location" in line for line in output), "the place was in the text"
    number = NUMBER.search(output[-1]).group()
    case = only_case(runtime)
    assert case.number == number
    assert case.label.startswith("component:01")
    assert case.grid_code and case.grid_code.startswith("410611")
    assert case.status == "accepted"
    assert [e.status for e in case.events] == ["accepted"]


def test_english_report_asks_for_the_place_and_takes_a_pin(runtime):
    output = chat(runtime, "The street light outside my building has been out for a week")
    assert "Where" in output[-1] or "Which" in output[-1]
    if "Which" in output[-1]:
        output += chat(runtime, "1")
    output += chat(runtime, "/location 35.7480 114.2970")
    assert "Submit" in output[-1] or "submit" in output[-1]
    output += chat(runtime, "1")
    assert NUMBER.search(output[-1]) and "filed" in output[-1]
    case = only_case(runtime)
    assert case.language == "en"
    assert case.location_source == "pin"
    assert case.grid_code is not None


def test_photo_with_exif_gps_gives_the_place(runtime, tmp_path):
    image = Image.new("RGB", (64, 48), (120, 90, 60))
    exif = Image.Exif()
    gps = exif.get_ifd(0x8825)
    gps.update({1: "N", 2: (35.0, 44.0, 52.8), 3: "E", 4: (114.0, 17.0, 49.2)})
    path = tmp_path / "cover.jpg"
    image.save(path, exif=exif)
    output = chat(runtime, f"/photo {path}")
    assert any("拍摄位置" in line for line in output)
    output += answer_until_filed(runtime, "这里的垃圾好几天没人清理了", "-")
    assert NUMBER.search(output[-1])
    case = only_case(runtime)
    assert case.location_source == "exif"
    with transaction(runtime.sessions) as s:
        attachment = s.scalar(select(Attachment).where(Attachment.case_id == case.id))
        assert attachment.exif_lat == pytest.approx(35.748, abs=1e-3)
        shared = Image.open(attachment.path)
        assert not shared.getexif(), "EXIF must be stripped from the copy that is forwarded"


def test_status_my_cases_and_language(runtime):
    output = answer_until_filed(runtime, "华夏南路和黎阳路路口路灯不亮", "华夏南路与黎阳路交叉口")
    number = NUMBER.search(output[-1]).group()
    status = chat(runtime, f"查询 {number}")
    assert number in status[0] and "已受理" in status[0]
    mine = chat(runtime, "我的案件")
    assert number in "\n".join(mine)
    english = chat(runtime, "EN", f"status {number}")
    assert "English" in english[0] and "accepted" in english[-1]


def test_cancel_clears_the_report_in_progress(runtime):
    chat(runtime, "路灯坏了")
    assert "已取消" in chat(runtime, "取消")[0]
    assert "没有进行中" in chat(runtime, "取消")[0]
    with transaction(runtime.sessions) as s:
        assert s.scalar(select(func.count(Case.id))) == 0


def test_out_of_scope_gets_a_referral_and_no_case(runtime):
    output = chat(runtime, "我的养老金这个月怎么还没到账")
    assert "12333" in output[0] and "城市管理" in output[0]
    with transaction(runtime.sessions) as s:
        assert s.scalar(select(func.count(Case.id))) == 0


def test_emergency_tells_the_resident_to_call_at_once(runtime):
    output = chat(runtime, "淇滨大道燃气管道破裂了，煤气味很大")
    assert "119" in output[0]


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("", "没有收到内容"),
        ("井" * 100_000, "太长"),
        ("\x00\x01\x02\x03\x04\x05\x06\x07\x08\x0b\x0c\x0e\x0f", "无法识别"),
        ("/frobnicate", "不认识这个指令"),
        ("/photo /nonexistent/file.jpg", "照片无法读取"),
    ],
)
def test_bad_input_gets_a_clear_reply_and_is_stored(runtime, line, expected):
    output = chat(runtime, line)
    assert expected in output[0]
    with transaction(runtime.sessions) as s:
        rows = s.scalars(select(InboundMessage)).all()
        assert len(rows) == 1
        assert rows[0].status in ("rejected", "processed")
        # PostgreSQL cannot store NUL: it is kept as U+FFFD on both databases
        assert rows[0].payload["raw"] == {"line": line.replace("\x00", "\ufffd")}


def test_a_text_file_sent_as_photo_is_refused(runtime, tmp_path):
    fake = tmp_path / "notes.jpg"
    fake.write_text("not an image at all")
    assert "照片无法读取" in chat(runtime, f"/photo {fake}")[0]
    with transaction(runtime.sessions) as s:
        assert s.scalar(select(func.count(Attachment.id))) == 0


def test_a_failure_leaves_the_message_for_retry(runtime, monkeypatch):
    def broken(text):
        raise RuntimeError("classifier unavailable")

    monkeypatch.setattr(runtime.intake, "classify", broken)
    output = chat(runtime, "淇滨大道与九州路交叉口的井盖坏了")
    assert "已保存" in output[0]
    with transaction(runtime.sessions) as s:
        row = s.scalar(select(InboundMessage))
        assert row.status == "failed" and "classifier unavailable" in row.error
    monkeypatch.undo()
    outcomes = runtime.engine.retry_pending(older_than=timedelta(0))
    assert len(outcomes) == 1 and "回复1" in outcomes[0].replies[-1].text
    with transaction(runtime.sessions) as s:
        assert s.scalar(select(InboundMessage)).status == "processed"
