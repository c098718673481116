"""Photos are judged by their header before decoding: only JPEG, PNG and WebP, within a pixel
limit with no slack, decoded in a bounded way. A refused photo gets a polite reply and the
report goes on. The decompression bomb of the security report arrives over real HTTP as MMS."""

from __future__ import annotations

import io
import time
from pathlib import Path

import httpx
import pytest
from PIL import Image
from sqlalchemy import select

from bot.photos import (
    JPEG_MAX_PIXELS,
    ONE_BYTE_MAX_PIXELS,
    RGB_MAX_PIXELS,
    SHARED_MAX_SIDE,
    BadPhoto,
    store_photo,
)
from storage.db import transaction
from storage.models import Attachment, Conversation, InboundMessage
from tests.conftest import make_runtime
from tests.support.http import live_gateway
from tests.support.images import photo, png_bomb
from tests.support.sms import ACCOUNT, TOKEN, sign, twilio_form

LIMIT = 10 * 1024 * 1024


def _peak_rss_reset() -> bool:
    """Reset this process's peak resident size (VmHWM), so a later reading measures one step."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def _rss_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise LookupError(field)


def test_the_bomb_over_mms_is_refused_before_decoding_and_the_report_goes_on(tmp_path, local_server):
    bomb = png_bomb()  # 10950×10950, 120 megapixels, ~28 KB
    media = local_server(lambda seen: (200, {"Content-Type": "image/png"}, bomb))
    runtime = make_runtime(tmp_path / "var", GRIDINTAKE_TWILIO_AUTH_TOKEN=TOKEN,
                           GRIDINTAKE_TWILIO_ACCOUNT_SID=ACCOUNT,
                           GRIDINTAKE_TWILIO_API_BASE=media.url,
                           GRIDINTAKE_SMS_MEDIA_HOSTS="127.0.0.1")
    runtime.classify("热身")  # load the classifier before measuring
    with live_gateway(runtime) as base:
        url = f"{base}/sms/twilio"
        form = twilio_form("inbound_mms.json", Body="九州路与淇滨大道路口的井盖丢了", MessageSid="MMBOMB",
                           MediaUrl0=media.url + "/bomb.png", MediaContentType0="image/png")
        measured = _peak_rss_reset()
        before = _rss_kib("VmRSS")
        started = time.monotonic()
        answer = httpx.post(url, data=form, headers={"X-Twilio-Signature": sign(url, form)}, timeout=30)
        elapsed = time.monotonic() - started
        grown_mib = (_rss_kib("VmHWM") - before) / 1024
    assert answer.status_code == 200
    assert "照片无法读取" in answer.text
    assert "井盖" in answer.text or "位置" in answer.text or "确认" in answer.text  # the report goes on
    assert elapsed < 5
    if measured:
        assert grown_mib < 100, f"peak grew by {grown_mib:.0f} MiB for one photo"
    with transaction(runtime.sessions) as session:
        assert session.scalar(select(Attachment)) is None
        assert session.scalar(select(InboundMessage)).kind == "photo"
        conversation = session.scalar(select(Conversation))
        assert "井盖" in conversation.slots.get("text", "")
    runtime.db.dispose()


def test_the_header_limit_has_no_slack(tmp_path):
    with pytest.raises(BadPhoto, match="pixel limit"):
        store_photo(png_bomb(8192, ONE_BYTE_MAX_PIXELS // 8192 + 1), tmp_path, LIMIT)
    stored = store_photo(png_bomb(8192, ONE_BYTE_MAX_PIXELS // 8192), tmp_path, LIMIT)
    assert stored.width * stored.height == ONE_BYTE_MAX_PIXELS
    assert Image.open(stored.shared_path).size == (SHARED_MAX_SIDE, SHARED_MAX_SIDE)


def test_colour_pngs_have_a_lower_limit(tmp_path):
    with pytest.raises(BadPhoto, match="pixel limit"):
        store_photo(photo("PNG", (4000, RGB_MAX_PIXELS // 4000 + 1)), tmp_path, LIMIT)


def _claim_size(jpeg: bytes, width: int, height: int) -> bytes:
    """The same JPEG with its frame header (SOF0) claiming another size."""
    at = jpeg.index(b"\xff\xc0") + 5
    return jpeg[:at] + height.to_bytes(2, "big") + width.to_bytes(2, "big") + jpeg[at + 4:]


def test_jpeg_over_its_limit_is_refused_from_the_header(tmp_path):
    claimed = _claim_size(photo("JPEG", (64, 48)), 8001, 8000)
    assert JPEG_MAX_PIXELS < 8001 * 8000
    with pytest.raises(BadPhoto, match="pixel limit"):
        store_photo(claimed, tmp_path, LIMIT)


def test_a_large_jpeg_decodes_reduced(tmp_path):
    stored = store_photo(photo("JPEG", (6000, 4000), mode="L"), tmp_path, LIMIT)
    assert (stored.width, stored.height) == (6000, 4000)
    assert Image.open(stored.shared_path).size == (SHARED_MAX_SIDE, 1365)


@pytest.mark.parametrize("fmt", ["GIF", "BMP", "TIFF", "ICO", "PPM"])
def test_other_formats_are_refused(tmp_path, fmt):
    with pytest.raises(BadPhoto):
        store_photo(photo(fmt, (32, 32)), tmp_path, LIMIT)


def test_webp_is_accepted_and_shared_without_metadata(tmp_path):
    out = io.BytesIO()
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"
    Image.new("RGB", (40, 30), (1, 2, 3)).save(out, format="WEBP", exif=exif, icc_profile=b"x" * 40)
    stored = store_photo(out.getvalue(), tmp_path, LIMIT)
    assert stored.mime == "image/webp"
    shared = Image.open(stored.shared_path)
    assert shared.format == "JPEG" and not shared.getexif() and "icc_profile" not in shared.info


def test_a_truncated_png_is_refused_and_leaves_no_file(tmp_path):
    data = photo("PNG", (300, 300), mode="RGB")
    with pytest.raises(BadPhoto):
        store_photo(data[: len(data) // 2], tmp_path, LIMIT)
    assert not [p for p in tmp_path.rglob("*") if p.is_file()]
