"""`GET /media/<sha256>?expires=…&sig=…`: the EXIF-stripped copy of a case photo, the target of
the signed, time-limited `photos` / Open311 `media_url` links that forwarding builds from
GRIDINTAKE_PUBLIC_URL (cases/media_links.py). Without a valid link only signed-in staff see it;
everyone else gets 403 before the store is even asked, so nothing tells whether a photo exists.

Only photos attached to a case are served (a photo a resident sent but never filed stays
private), and only from the media store (storage/media.py), so any gateway serves a photo another
one received: the sha256 must be 64 hex digits and the key is made from it and the shared copy's
type (`photos/ab/<sha256>.jpg`), so no request can name another file."""

from __future__ import annotations

import io
import re
import time
from pathlib import PurePath

from flask import Blueprint, abort, current_app, g, request, send_file
from sqlalchemy import select

from cases.media_links import media_link_valid
from gateway.admin.security import load_user
from storage.db import transaction
from storage.media import photo_key
from storage.models import Attachment

bp = Blueprint("media", __name__)
SHA256 = re.compile(r"[0-9a-f]{64}")
# The shared copy is re-encoded (bot/photos.py): PNG stays PNG, everything else becomes JPEG,
# so the type follows the stored file, not the mime of what the resident uploaded.
SHARED_TYPES = {".png": "image/png", ".jpg": "image/jpeg"}


def _shared_key(digest: str) -> str | None:
    """The media key of the shared copy, when a case has this photo."""
    runtime = current_app.config["RUNTIME"]
    with transaction(runtime.sessions) as session:
        stored = session.scalar(select(Attachment.path).where(
            Attachment.sha256 == digest, Attachment.case_id.is_not(None)).limit(1))
    suffix = PurePath(stored).suffix if stored else ""
    return photo_key(digest, suffix) if suffix in SHARED_TYPES else None


def _accelerated(key: str, mime: str):
    """Let nginx send the file from the store (an internal location, deploy/nginx.conf)."""
    prefix = current_app.config["RUNTIME"].settings.media.accel_redirect
    response = current_app.response_class(status=200, mimetype=mime)
    response.headers["X-Accel-Redirect"] = prefix.rstrip("/") + "/" + key
    return response


def _allowed(digest: str) -> bool:
    """A valid signed link, or a signed-in operator or administrator."""
    secret = current_app.config["RUNTIME"].secret_key
    if media_link_valid(secret, digest, request.args.get("expires"), request.args.get("sig")):
        return True
    load_user()
    return g.user is not None


@bp.get("/media/<digest>")
def media(digest: str):
    if not SHA256.fullmatch(digest):
        abort(404)
    if not _allowed(digest):
        abort(403)
    key = _shared_key(digest)
    if key is None:
        abort(404)
    mime = SHARED_TYPES[PurePath(key).suffix]
    runtime = current_app.config["RUNTIME"]
    if runtime.settings.media.accel_redirect:
        response = _accelerated(key, mime)
    else:
        data = runtime.media.get(key)
        if data is None:
            abort(404)
        response = send_file(io.BytesIO(data), mimetype=mime, etag=digest, conditional=True)
    # Private: a shared cache must not hand a signed photo to someone without the link.
    expires = request.args.get("expires", "")
    left = int(expires) - int(time.time()) if expires.isdigit() else 0
    response.headers["Cache-Control"] = f"private, max-age={max(0, min(left, 3600))}"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
