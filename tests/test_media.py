"""`GET /media/<sha256>` over real HTTP: the platform gets every photo of a case as a signed,
time-limited absolute link (webhook `photos`, Open311 `media_url`) that serves the stored,
EXIF-stripped photo; without a valid link only signed-in staff see it."""

from __future__ import annotations

import io
import time
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from PIL import Image

from bot.media import keep_photo
from cases.media_links import media_signature
from gateway.admin.users import set_user
from storage.db import transaction
from storage.models import Attachment, Case
from tests.forwarding_fixtures import build_env
from tests.support.http import live_gateway
from tests.support.processes import free_port

PASSWORD = "correct horse battery"


def _image(fmt: str, colour=(200, 40, 40)) -> bytes:
    out = io.BytesIO()
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make: must not travel onwards
    Image.new("RGB", (32, 24), colour).save(out, format=fmt, exif=exif)
    return out.getvalue()


@pytest.fixture
def media(tmp_path, database_url, receiver):
    port = free_port()
    env = build_env(tmp_path / "var", database_url, receiver,
                    GRIDINTAKE_PUBLIC_URL=f"http://127.0.0.1:{port}",
                    GRIDINTAKE_OPEN311_ENDPOINT=receiver.url + "/open311")
    with live_gateway(env.runtime, port) as base, httpx.Client(base_url=base) as http:
        yield env, http
    env.runtime.db.dispose()


def _photo(env, data: bytes) -> Attachment:
    stored = keep_photo(env.runtime.media, data, env.runtime.config.data_dir / "photos", 10 * 1024 * 1024)
    with transaction(env.runtime.sessions) as session:
        attachment = Attachment(path=str(stored.shared_path), sha256=stored.sha256,
                                mime=stored.mime, size=stored.size)
        session.add(attachment)
    return attachment


def _link(env, digest: str, expires: int) -> str:
    return f"/media/{digest}?expires={expires}&sig={media_signature(env.runtime.secret_key, digest, expires)}"


@pytest.mark.parametrize(("fmt", "mime"), [("JPEG", "image/jpeg"), ("PNG", "image/png"),
                                           ("WEBP", "image/jpeg")])
def test_the_platform_fetches_every_photo_by_its_signed_link(media, fmt, mime):
    env, http = media
    first, second = _photo(env, _image(fmt)), _photo(env, _image(fmt, (10, 200, 10)))
    number = env.file(attachments=(first.id, second.id))
    env.drain()
    [created] = env.receiver.webhook("case.created")
    photos = created.json()["case"]["photos"]
    assert [urlsplit(url).path for url in photos] == [f"/media/{first.sha256}",
                                                      f"/media/{second.sha256}"]
    [request] = [s for s in env.receiver.requests if s.path.endswith("requests.json")]
    assert request.form["media_url"] == photos[0]
    assert request.form["attribute[case_number]"] == number
    for url, attachment in zip(photos, (first, second), strict=True):
        assert url.startswith(str(http.base_url).rstrip("/"))  # absolute, on our public URL
        expires = int(parse_qs(urlsplit(url).query)["expires"][0])
        assert 167 * 3600 < expires - time.time() <= 168 * 3600
        response = httpx.get(url)
        assert response.status_code == 200
        assert response.headers["content-type"] == mime
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Cache-Control"].startswith("private")
        with open(attachment.path, "rb") as shared:
            assert response.content == shared.read()
        assert 0x010F not in Image.open(io.BytesIO(response.content)).getexif()


def test_without_a_valid_link_a_photo_is_refused(media):
    env, http = media
    attachment = _photo(env, _image("JPEG"))
    other = _photo(env, _image("JPEG", (0, 0, 255)))
    env.file(attachments=(attachment.id, other.id))
    digest, later = attachment.sha256, int(time.time()) + 600
    good = _link(env, digest, later)
    assert http.get(good).status_code == 200
    refused = [
        f"/media/{digest}",                                   # no link at all
        good.replace("sig=", "sig=0"),                        # altered signature
        good.replace(f"expires={later}", f"expires={later + 3600}"),  # extended expiry
        _link(env, digest, int(time.time()) - 1),             # expired
        _link(env, other.sha256, later).replace(other.sha256, digest, 1),  # another photo's link
        f"/media/{'0' * 64}",                                 # unknown: same answer as known
    ]
    for path in refused:
        answer = http.get(path)
        assert answer.status_code == 403, path
        assert b"\xff\xd8" not in answer.content


def test_signed_in_staff_see_photos_without_a_link(media):
    env, http = media
    attachment = _photo(env, _image("PNG"))
    env.file(attachments=(attachment.id,))
    with transaction(env.runtime.sessions) as session:
        set_user(session, "otto", "operator", PASSWORD, "test")
    login = http.get("/admin/login").text
    token = login.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    assert http.post("/admin/login", data={"name": "otto", "password": PASSWORD,
                                           "csrf_token": token}).status_code == 302
    assert http.get(f"/media/{attachment.sha256}").status_code == 200


@pytest.mark.parametrize("path", [
    "/media/" + "A" * 64,                 # upper-case hex is not how we store it
    "/media/abc",                          # too short
    "/media/..%2F..%2Fgridintake.db",      # traversal attempts
    "/media/../gridintake.db",
    "/media/%2e%2e/%2e%2e/etc/passwd",
])
def test_malformed_names_are_404(media, path):
    _, http = media
    assert http.get(path).status_code == 404


def test_a_validly_signed_photo_not_attached_to_a_case_is_not_served(media):
    env, http = media
    attachment = _photo(env, _image("JPEG"))
    assert http.get(_link(env, attachment.sha256, int(time.time()) + 60)).status_code == 404


def test_a_stored_path_outside_the_photo_store_is_not_served(media):
    env, http = media
    number = env.file()
    outside = env.runtime.config.data_dir / "secret.jpg"
    outside.write_bytes(_image("JPEG"))
    digest = "f" * 64
    with transaction(env.runtime.sessions) as session:
        case_id = session.query(Case.id).filter_by(number=number).scalar()
        session.add(Attachment(case_id=case_id, path=str(outside), sha256=digest,
                               mime="image/jpeg", size=1))
    assert http.get(_link(env, digest, int(time.time()) + 60)).status_code == 404
