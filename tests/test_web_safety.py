"""Over real HTTP: security headers on every HTML page (no inline script), admin pages never
cached, HSTS over HTTPS; body limits that hold for chunked bodies; category imports refuse YAML
aliases and files over 1 MB; the category CSV export guards formula cells and reads back."""

from __future__ import annotations

import csv
import io
import re

import httpx
import pytest
from sqlalchemy import func, select

from gateway.admin.catalog import parse_import, save_classes
from gateway.admin.users import set_user
from storage.db import transaction
from storage.models import AuditLog
from tests.conftest import make_runtime
from tests.support.http import live_gateway
from tests.support.users import add_user

PASSWORD = "correct horse battery"
ADMIN_PAGES = ("/admin/map", "/admin/dashboard", "/admin/cases", "/admin/categories", "/admin/review",
               "/admin/evaluate", "/admin/try", "/admin/audit", "/admin/models")


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    runtime = make_runtime(tmp_path_factory.mktemp("web") / "var")
    with transaction(runtime.sessions) as session:
        set_user(session, "ann", "admin", PASSWORD, "test")
    token = add_user(runtime, "otto", "operator")
    with live_gateway(runtime) as base:
        yield runtime, base, token
    runtime.db.dispose()


@pytest.fixture(scope="module")
def admin(site):
    _, base, _ = site
    with httpx.Client(base_url=base, timeout=60) as client:
        page = client.get("/admin/login").text
        token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        assert client.post("/admin/login", data={"name": "ann", "password": PASSWORD,
                                                 "csrf_token": token}).status_code == 302
        yield client


def _csrf(client) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', client.get("/admin/categories").text).group(1)


def test_html_pages_carry_the_security_headers_and_no_inline_script(site, admin):
    _, base, _ = site
    pages = [httpx.get(base + "/admin/login"), httpx.get(base + "/operator/transcripts")]
    pages += [admin.get(path) for path in ADMIN_PAGES]
    for page in pages:
        assert page.status_code == 200, page.url
        csp = page.headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp, page.url
        assert "frame-ancestors 'none'" in csp
        assert page.headers["X-Content-Type-Options"] == "nosniff"
        assert page.headers["Referrer-Policy"] == "same-origin"
        assert "Strict-Transport-Security" not in page.headers  # plain http
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", page.text), page.url
        assert not re.search(r"\son[a-z]+\s*=", page.text), page.url
        if "/admin" in str(page.url):
            assert page.headers["Cache-Control"] == "no-store"


def test_hsts_over_https_and_the_map_tiles_as_image_source(tmp_path):
    runtime = make_runtime(tmp_path / "var", GRIDINTAKE_PUBLIC_URL="https://gi.example.org",
                           GRIDINTAKE_MAP_TILES="osm")
    with live_gateway(runtime) as base:
        answer = httpx.get(base + "/admin/login")
    assert answer.headers["Strict-Transport-Security"].startswith("max-age=31536000")
    [images] = [d for d in answer.headers["Content-Security-Policy"].split("; ") if d.startswith("img-src")]
    assert images == "img-src 'self' data: https://tile.openstreetmap.org"
    runtime.db.dispose()


def _chunks(size: int):
    for _ in range(size // 4096):
        yield b"x" * 4096


@pytest.mark.parametrize(("path", "size"), [
    ("/sms/twilio", 100 * 1024),
    ("/sms/generic", 100 * 1024),
    ("/api/v1/transcripts", 300 * 1024),
    ("/api/v1/cases/GI-1/events", 100 * 1024),
    ("/telegram/webhook", 300 * 1024),
])
def test_chunked_bodies_meet_the_same_limits(site, path, size):
    _, base, token = site
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
    answer = httpx.post(base + path, content=_chunks(size), headers=headers, timeout=60)
    assert answer.request.headers["Transfer-Encoding"] == "chunked"
    if path == "/api/v1/transcripts":  # the operator's token is good: the body is what fails
        assert answer.status_code in (400, 413) and "at most 262144 bytes" in answer.text
    else:
        assert answer.status_code in (413, 401, 403, 404, 503), answer.text


ALIAS_BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{c}: &{c} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n"
    for p, c in zip("abcdefgh", "bcdefghi", strict=True))


def test_yaml_imports_refuse_aliases_and_big_files(site, admin):
    runtime, _, _ = site
    for name, body in (("bomb.yaml", ALIAS_BOMB), ("big.yaml", "# pad\n" * 200_000)):
        answer = admin.post("/admin/categories/import", data={"csrf_token": _csrf(admin)},
                            files={"file": (name, body.encode())})
        assert answer.status_code == 302
        flashed = admin.get("/admin/categories").text
        assert "import failed, nothing changed" in flashed or "over 1 MB" in flashed
    with pytest.raises(ValueError, match="anchors and aliases"):
        parse_import("a.yaml", "component:0101: &x {name_zh: 井盖}\nevent:0101: *x\n")
    with transaction(runtime.sessions) as session:
        imports = session.scalar(select(func.count(AuditLog.id)).where(
            AuditLog.action == "category.import"))
    assert imports == 0


def test_category_csv_export_guards_formulas_and_reads_back(site, admin):
    runtime, _, _ = site
    evil = {"component:0101": {"name_zh": "=HYPERLINK(\"http://x\")", "department": "\tcmd",
                               "name_en": "\r@SUM(1)"}}
    with transaction(runtime.sessions) as session:
        save_classes(session, runtime.base_tree, evil, "test", "category.update")
    answer = admin.get("/admin/categories/export.csv")
    assert answer.status_code == 200
    rows = {r["label"]: r for r in csv.DictReader(io.StringIO(answer.text.lstrip("\ufeff"), newline=""))}
    row = rows["component:0101"]
    assert row["name_zh"] == "'=HYPERLINK(\"http://x\")"
    assert row["department"] == "'\tcmd" and row["name_en"] == "'\r@SUM(1)"
    for cells in rows.values():
        assert not any(str(v).startswith(("=", "+", "-", "@", "\t", "\r")) for v in cells.values())
    back = parse_import("export.csv", answer.text.lstrip("\ufeff"))["component:0101"]
    assert back["name_zh"] == evil["component:0101"]["name_zh"]
    assert back["name_en"] == "@SUM(1)"  # the import strips the cells it reads
