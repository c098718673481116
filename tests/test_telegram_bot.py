"""The Telegram bot end to end: the real python-telegram-bot Application polling the Bot API
emulator over loopback HTTP, the engine and a migrated SQLite database behind it."""

from __future__ import annotations

import hashlib
import io

import pytest
from PIL import Image
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from bot.handlers.telegram.handler import build_application
from cases.notices import ask_for_rating, message
from gateway.forwarding.worker import Worker
from storage.db import transaction
from storage.models import Attachment, Case, Conversation, InboundMessage, Outbox, Reporter
from tests.conftest import make_runtime
from tests.support.telegram import PIN, SLOW, jpeg, report

pytestmark = pytest.mark.emulator

@pytest.fixture
def bot_runtime(tmp_path, tg):
    """Always ask for the category (so the inline pick is exercised); outbox via the emulator."""
    runtime = make_runtime(tmp_path / "var", GRIDINTAKE_BOT_CONFIRM_BELOW="1.01",
                           GRIDINTAKE_TELEGRAM_TOKEN=tg.token,
                           GRIDINTAKE_TELEGRAM_BASE_URL=tg.api.base_url)
    yield runtime
    runtime.db.dispose()


@pytest.fixture
def bot(tg, bot_runtime):
    return build_application(bot_runtime, tg.application_builder())


def cases(runtime) -> list[Case]:
    with transaction(runtime.sessions) as session:
        return list(session.scalars(select(Case).options(selectinload(Case.attachments),
                                                         selectinload(Case.reporter))))


def test_whole_report_with_pick_pin_and_photo_files_a_case(tg, resident, bot, bot_runtime):
    photo = jpeg()
    with tg.run(bot):
        resident.send_text("/start")
        assert "鹤壁" in resident.wait_reply().text
        category, number = report(resident, photo=photo)
    [case] = cases(bot_runtime)
    assert case.number == number
    assert bot_runtime.tree().get(case.label).name("zh") == category
    assert case.channel == "telegram" and case.location_source == "pin"
    assert case.grid_code and case.grid_code.startswith("410611")
    assert case.lat == pytest.approx(PIN[0], abs=1e-6) and case.lon == pytest.approx(PIN[1], abs=1e-6)
    assert case.reporter.channel_user_id == str(resident.chat_id)
    [attachment] = case.attachments
    assert attachment.sha256 == hashlib.sha256(photo).hexdigest()
    assert (attachment.width, attachment.height) == (640, 480)
    # every button press was answered and its keyboard taken away
    assert len(tg.api.callback_answers) == 2
    pressed = [s for s in resident.replies if s.edits]
    assert len(pressed) == 2 and all(not s.inline_buttons for s in pressed)
    with transaction(bot_runtime.sessions) as session:
        kinds = session.scalars(select(InboundMessage.kind).order_by(InboundMessage.id)).all()
    assert kinds == ["command", "text", "text", "location", "photo", "text"]


def test_status_and_my_cases(tg, resident, bot):
    with tg.run(bot):
        _, number = report(resident)
        resident.send_text(f"/status {number}")
        status = resident.wait_reply().text
        resident.send_text("/mycases")
        mine = resident.wait_reply().text
        resident.send_text("/status GI-20000101-000999")
        unknown = resident.wait_reply().text
    assert number in status and "已受理" in status
    assert number in mine
    assert "GI-20000101-000999" in unknown and "没有找到" in unknown


def test_language_follows_telegram_then_lang_switches(tg, bot):
    ann = tg.resident(language_code="en-GB", first_name="Ann")
    with tg.run(bot):
        ann.send_text("/start")
        assert ann.wait_reply().text.startswith("Hello")
        ann.send_text("/lang")
        assert ann.wait_reply().text == "已切换为中文。"
        ann.send_text("/help")
        assert "查询" in ann.wait_reply().text
        ann.send_text("/lang en")
        assert ann.wait_reply().text == "Replies are now in English."


def test_non_image_document_and_fake_photo_are_refused_politely(tg, resident, bot, bot_runtime):
    pdf = tg.api.files.add(b"%PDF-1.4 not a picture", folder="documents", suffix="pdf")
    with tg.run(bot):
        resident._send({"document": {"file_name": "scan.pdf", "mime_type": "application/pdf",
                                     "file_id": pdf.file_id, "file_unique_id": pdf.file_unique_id,
                                     "file_size": len(pdf.data)}})
        refused_doc = resident.wait_reply(SLOW).text
        resident.send_photo(b"GIF89a but not really")
        refused_photo = resident.wait_reply().text
    assert "照片无法读取" in refused_doc and "照片无法读取" in refused_photo
    with transaction(bot_runtime.sessions) as session:
        statuses = session.scalars(select(InboundMessage.status)).all()
        assert statuses == ["rejected", "rejected"]
        assert session.scalar(select(func.count(Attachment.id))) == 0


def test_image_sent_as_a_file_is_accepted(tg, resident, bot, bot_runtime):
    original = jpeg(320, 240)
    stored = tg.api.files.add(original, folder="documents")
    with tg.run(bot):
        resident._send({"document": {"file_name": "IMG_0001.jpg", "mime_type": "image/jpeg",
                                     "file_id": stored.file_id,
                                     "file_unique_id": stored.file_unique_id,
                                     "file_size": len(original)}})
        assert "描述" in resident.wait_reply(SLOW).text  # photo kept; now asks what the problem is
    with transaction(bot_runtime.sessions) as session:
        assert session.scalars(select(Attachment.sha256)).all() == [hashlib.sha256(original).hexdigest()]


def test_too_large_photo_is_refused_before_downloading(tg, resident, tmp_path):
    runtime = make_runtime(tmp_path / "small", GRIDINTAKE_BOT_MAX_PHOTO_BYTES=str(1024 * 1024))
    big = jpeg(1600, 1200)
    assert len(big) > 1024 * 1024
    with tg.run(build_application(runtime, tg.application_builder())):
        resident.send_photo(big, caption="垃圾堆满了")
        refused = resident.wait_reply(SLOW).text
    assert "1MB" in refused
    assert tg.api.calls_of("getFile") == []  # file_size said it all
    with transaction(runtime.sessions) as session:
        row = session.scalar(select(InboundMessage))
        assert (row.status, row.kind) == ("processed", "photo")  # the caption still counts
        assert row.payload["raw"]["message"]["photo"][-1]["file_size"] == len(big)
        assert session.scalar(select(Conversation.slots))["text"] == "垃圾堆满了"
    runtime.db.dispose()


def test_per_sender_rate_limit_answers_politely(tg, resident, tmp_path):
    runtime = make_runtime(tmp_path / "limited", GRIDINTAKE_LIMITS_PER_SENDER="2/minute")
    with tg.run(build_application(runtime, tg.application_builder())):
        for _ in range(3):
            resident.send_text("/help")
        replies = [r.text for r in resident.wait_replies(3, timeout=SLOW)]
    assert replies[2] == "您发送得太快了，请稍后再试。"
    with transaction(runtime.sessions) as session:  # the third kept, answered, not processed
        statuses = session.scalars(select(InboundMessage.status).order_by(InboundMessage.id))
        assert list(statuses) == ["processed", "processed", "rejected"]
    runtime.db.dispose()


def test_outbox_progress_rate_limit_rating_buttons_and_blocked_user(tg, resident, bot, bot_runtime):
    worker = Worker(bot_runtime)
    with tg.run(bot):
        _, number = report(resident)
        with transaction(bot_runtime.sessions) as session:
            case = session.scalar(select(Case).where(Case.number == number))
            message(session, case, case.reporter, key="case_dispatched", dedupe="dispatched",
                    department="城管局")
        tg.api.inject_error("sendMessage", 429, "Too Many Requests: retry after 1",
                            {"retry_after": 1})
        assert worker.run_once()["done"] >= 1
        progress = resident.wait_reply()
        assert number in progress.text and "城管局" in progress.text

        with transaction(bot_runtime.sessions) as session:
            case = session.scalar(select(Case).where(Case.number == number))
            ask_for_rating(session, case, dedupe="closed")
        worker.run_once()
        ask = resident.wait_reply()
        assert [b["callback_data"] for b in ask.inline_buttons] == ["1", "2", "3", "4", "5"]
        resident.press("★★★★")
        assert resident.wait_reply().text == "感谢您的评价！"

        resident.block_bot()
        with transaction(bot_runtime.sessions) as session:
            case = session.scalar(select(Case).where(Case.number == number))
            message(session, case, case.reporter, key="case_dispatched", dedupe="again",
                    department="环卫处")
        assert worker.run_once()["unreachable"] == 1
    worker.close()
    [case] = cases(bot_runtime)
    assert case.rating == 4
    assert case.reporter.unreachable is True
    with transaction(bot_runtime.sessions) as session:
        rows = session.scalars(select(Outbox).where(Outbox.sink == "telegram").order_by(Outbox.id)).all()
        assert [r.status for r in rows] == ["done", "done", "done"]
        assert "blocked" in rows[-1].last_error
        assert rows[0].result["chat_id"] == resident.chat_id


def test_writing_again_after_blocking_makes_the_resident_reachable(tg, resident, bot, bot_runtime):
    with tg.run(bot):
        resident.send_text("/help")
        resident.wait_reply(SLOW)
        with transaction(bot_runtime.sessions) as session:
            session.scalar(select(Reporter)).unreachable = True
        resident.send_text("/help")
        resident.wait_reply()
    with transaction(bot_runtime.sessions) as session:
        assert session.scalar(select(Reporter)).unreachable is False


def test_photo_file_with_exif_gps_gives_the_place_and_is_forwarded_without_exif(
        tg, resident, bot, bot_runtime):
    exif = Image.Exif()
    exif.get_ifd(0x8825).update({1: "N", 2: (35.0, 44.0, 52.8), 3: "E", 4: (114.0, 17.0, 49.2)})
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (120, 90, 60)).save(buffer, "JPEG", exif=exif)
    stored = tg.api.files.add(buffer.getvalue(), folder="documents")
    with tg.run(bot):  # Telegram keeps EXIF only in photos sent as files
        resident._send({"document": {"file_name": "IMG_0002.jpg", "mime_type": "image/jpeg",
                                     "file_id": stored.file_id,
                                     "file_unique_id": stored.file_unique_id,
                                     "file_size": len(stored.data)}})
        replies = [resident.wait_reply(SLOW).text, resident.wait_reply().text]
    assert "拍摄位置" in replies[0]
    with transaction(bot_runtime.sessions) as session:
        attachment = session.scalar(select(Attachment))
        assert attachment.exif_lat == pytest.approx(35.748, abs=1e-3)
        assert not Image.open(attachment.path).getexif()
