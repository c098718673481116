"""Time-limited links to case photos: `/media/<sha256>?expires=<unix>&sig=<hex>`.

The signature is an HMAC-SHA256, keyed with the gateway's secret, over the photo's hash and the
expiry, so a link names one photo for a limited time and cannot be altered or extended. The
platform receives such links in the case document (`photos`) and as Open311 `media_url`;
`gateway/media.py` checks them."""

from __future__ import annotations

import hashlib
import hmac
import time
from urllib.parse import urlencode


def media_signature(secret: bytes, digest: str, expires: int) -> str:
    return hmac.new(secret, f"media:{digest}:{int(expires)}".encode(), hashlib.sha256).hexdigest()


def signed_media_url(base_url: str, secret: bytes, digest: str, ttl_s: float,
                     now: float | None = None) -> str:
    expires = int((time.time() if now is None else now) + ttl_s)
    query = urlencode({"expires": expires, "sig": media_signature(secret, digest, expires)})
    return f"{base_url.rstrip('/')}/media/{digest}?{query}"


def media_link_valid(secret: bytes, digest: str, expires: str | None, sig: str | None,
                     now: float | None = None) -> bool:
    """True for an unexpired link whose signature matches this photo and expiry."""
    if not expires or not expires.isdigit() or not sig:
        return False
    if int(expires) < (time.time() if now is None else now):
        return False
    return hmac.compare_digest(media_signature(secret, digest, int(expires)), sig)
