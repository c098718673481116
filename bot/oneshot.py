"""File a case from one complete report (CLI `report`, hotline API): no conversation needed."""

from __future__ import annotations

import uuid
from typing import Any

from bot.media import keep_photo
from bot.photos import BadPhoto
from cases import reporters
from cases.relabel import relabel
from cases.serialize import case_to_json
from storage.db import transaction
from storage.models import Attachment


def file_report(runtime, *, text: str, lat: float | None = None, lon: float | None = None,
                crs: str = "wgs84", photo: bytes | None = None, channel: str = "console",
                phone: str | None = None, sender: str | None = None,
                label: str | None = None) -> dict[str, Any]:
    text = (text or "").strip()
    if not text:
        raise ValueError("the report text is empty: say what the problem is and where")
    limit = runtime.settings.bot.max_text_chars
    if len(text) > limit:
        raise ValueError(f"the report text is {len(text)} characters; the limit is {limit}")
    classification = runtime.classify(text)
    if label:
        classification = relabel(runtime.tree(), classification, label)
    if lat is not None and lon is not None:
        place = runtime.geo.locate(lat, lon, crs=crs)
    else:
        place = runtime.intake.place_from_text(text, classification)
    stored = None
    if photo is not None:
        try:
            stored = keep_photo(runtime.media, photo, runtime.config.data_dir / "photos",
                                runtime.settings.bot.max_photo_bytes)
        except BadPhoto as exc:
            raise ValueError(f"the photo was not accepted: {exc}") from None
    with transaction(runtime.sessions) as session:
        reporter = reporters.get_or_create(
            session, channel=channel, sender=sender or phone or uuid.uuid4().hex, phone=phone,
            language=classification.language or "zh")
        attachments = []
        if stored is not None:
            attachments.append(Attachment(
                path=str(stored.shared_path), sha256=stored.sha256, mime=stored.mime,
                size=stored.size, width=stored.width, height=stored.height,
                exif_lat=stored.gps[0] if stored.gps else None,
                exif_lon=stored.gps[1] if stored.gps else None,
            ))
            session.add_all(attachments)
        case = runtime.intake.file_case(
            session, text=text, classification=classification, place=place, channel=channel,
            reporter=reporter, language=reporter.language, attachments=attachments,
            contact_phone=phone,
        )
        return case_to_json(case)

