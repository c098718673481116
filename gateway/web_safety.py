"""What every response of the gateway carries and what every request body may weigh.

Headers: HTML pages get a Content-Security-Policy without inline script (the pages' scripts are
static files), `frame-ancestors 'none'`, a Referrer-Policy and nosniff; admin pages are never
cached (`no-store`); over HTTPS (the request's own scheme or GRIDINTAKE_PUBLIC_URL) browsers are
told to stay on HTTPS (HSTS).

Body limits are set on the request before its view reads the body, so Werkzeug stops reading
at the limit (413) whether the client sent a Content-Length or a chunked body."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask, Response, request

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:{images}; "
       "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
       "frame-ancestors 'none'")
HSTS = "max-age=31536000; includeSubDomains"


def tile_source(template: str) -> str:
    """The CSP source of a map tile URL template: `https://{s}.tile.example/{z}/…` →
    `https://*.tile.example` (a templated first label becomes a wildcard)."""
    parts = urlsplit(template)
    labels = parts.netloc.split(".")
    if "{" in labels[0]:
        labels[0] = "*"
    return f"{parts.scheme}://{'.'.join(labels)}"


def install(app: Flask, body_limits: dict[str, int], https: bool, images: tuple[str, ...] = ()) -> None:
    """`body_limits`: the most bytes a request body may carry, by blueprint name; `images`:
    where else pictures may come from (the staff map's tile server)."""
    csp = CSP.format(images="".join(f" {source}" for source in images))

    @app.before_request
    def _limit_body() -> None:
        limit = body_limits.get(request.blueprint or "")
        if limit is not None:
            request.max_content_length = limit

    @app.after_request
    def _headers(response: Response) -> Response:
        headers = response.headers
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("Referrer-Policy", "same-origin")
        if response.mimetype == "text/html":
            headers.setdefault("Content-Security-Policy", csp)
            headers.setdefault("X-Frame-Options", "DENY")
        if request.blueprint == "admin" or request.path.startswith("/admin"):
            headers["Cache-Control"] = "no-store"
        if https or request.is_secure:
            headers.setdefault("Strict-Transport-Security", HSTS)
        return response
