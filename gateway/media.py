"""`GET /media/<sha256>`: the EXIF-stripped copy of a case photo, the target of the `photos` /
Open311 `media_url` links that forwarding builds from GRIDINTAKE_PUBLIC_URL.

Only photos attached to a case are served (a photo a resident sent but never filed stays
private), and only files inside the photo store: the sha256 must be 64 hex digits and the stored
path must resolve under `<data_dir>/photos`, so no request can name another file."""

from __future__ import annotations

import re
from pathlib import Path

from flask import Blueprint, abort, current_app, send_file
from sqlalchemy import select

from storage.db import transaction
from storage.models import Attachment

bp = Blueprint("media", __name__)
SHA256 = re.compile(r"[0-9a-f]{64}")
# The shared copy is re-encoded (bot/photos.py): PNG stays PNG, everything else becomes JPEG,
# so the type follows the stored file, not the mime of what the resident uploaded.
SHARED_TYPES = {".png": "image/png", ".jpg": "image/jpeg"}


def _shared_photo(digest: str) -> Path | None:
    runtime = current_app.config["RUNTIME"]
    with transaction(runtime.sessions) as session:
        stored = session.scalar(select(Attachment.path).where(
            Attachment.sha256 == digest, Attachment.case_id.is_not(None)).limit(1))
    if stored is None:
        return None
    store = (runtime.config.data_dir / "photos").resolve()
    path = Path(stored).resolve()
    if not path.is_relative_to(store) or path.suffix not in SHARED_TYPES or not path.is_file():
        return None
    return path


@bp.get("/media/<digest>")
def media(digest: str):
    if not SHA256.fullmatch(digest):
        abort(404)
    path = _shared_photo(digest)
    if path is None:
        abort(404)
    response = send_file(path, mimetype=SHARED_TYPES[path.suffix], max_age=86400, etag=True)
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
