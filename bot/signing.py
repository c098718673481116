"""`X-Gridintake-Signature: t=<unix>,v1=<hex hmac-sha256 of "<t>.<body>">` for both directions.

The timestamp is signed with the body, so a captured request cannot be replayed once it is
older than the window (5 minutes).
"""

from __future__ import annotations

import hashlib
import hmac
import time

HEADER = "X-Gridintake-Signature"
REPLAY_WINDOW_S = 300


class SignatureError(Exception):
    """The signature is missing, malformed, wrong or too old."""


def signature(secret: str, body: bytes, timestamp: int | None = None) -> str:
    ts = int(time.time()) if timestamp is None else int(timestamp)
    digest = hmac.new(secret.encode(), f"{ts}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={ts},v1={digest}"


def verify(secret: str, header: str | None, body: bytes, now: float | None = None,
           window_s: int = REPLAY_WINDOW_S) -> int:
    """Return the signed timestamp, or raise SignatureError saying what is wrong."""
    if not header:
        raise SignatureError(f"missing {HEADER} header")
    parts = dict(p.strip().split("=", 1) for p in header.split(",") if "=" in p)
    ts, given = parts.get("t", ""), parts.get("v1", "")
    if not (ts.isascii() and ts.isdigit() and len(ts) <= 12) or not given:
        raise SignatureError(f"malformed {HEADER} header: expected t=<unix>,v1=<hex>")
    now = time.time() if now is None else now
    if abs(now - int(ts)) > window_s:
        raise SignatureError("signature timestamp outside the 5-minute replay window")
    expected = signature(secret, body, int(ts)).split("v1=", 1)[1]
    if not hmac.compare_digest(expected, given):
        raise SignatureError("signature does not match")
    return int(ts)
