"""`GET /media/<sha256>`: the photo links in forwarded case documents resolve to the stored,
EXIF-stripped photo, and nothing else can be fetched through the route."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from bot.photos import store_photo
from gateway.app import create_app
from gateway.forwarding import platform_for
from storage.db import transaction
from storage.models import Attachment, Case
from tests.forwarding_fixtures import build_env

PUBLIC = "https://gridintake.example.org/gi"


def _image(fmt: str) -> bytes:
    out = io.BytesIO()
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make: must not travel onwards
    Image.new("RGB", (32, 24), (200, 40, 40)).save(out, format=fmt, exif=exif)
    return out.getvalue()


@pytest.fixture
def media(tmp_path, database_url, receiver):
    env = build_env(tmp_path / "var", database_url, receiver, GRIDINTAKE_PUBLIC_URL=PUBLIC)
    yield env, create_app(env.runtime).test_client()
    env.runtime.db.dispose()


def _attach(env, number: str | None, data: bytes) -> Attachment:
    stored = store_photo(data, env.runtime.config.data_dir / "photos", 10 * 1024 * 1024)
    with transaction(env.runtime.sessions) as session:
        case_id = session.query(Case.id).filter_by(number=number).scalar() if number else None
        attachment = Attachment(case_id=case_id, path=str(stored.shared_path),
                                sha256=stored.sha256, mime=stored.mime, size=stored.size)
        session.add(attachment)
    return attachment


@pytest.mark.parametrize(("fmt", "mime"), [("JPEG", "image/jpeg"), ("PNG", "image/png"),
                                           ("WEBP", "image/jpeg")])
def test_document_media_url_serves_the_stripped_photo(media, fmt, mime):
    env, client = media
    number = env.file()
    attachment = _attach(env, number, _image(fmt))
    with transaction(env.runtime.sessions) as session:
        case = session.query(Case).filter_by(number=number).one()
        document = platform_for(env.runtime).document(case)
    [url] = document["photos"]
    assert url == f"{PUBLIC}/media/{attachment.sha256}"
    response = client.get(url.removeprefix(PUBLIC))
    assert response.status_code == 200
    assert response.mimetype == mime
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    with open(attachment.path, "rb") as shared:
        assert response.data == shared.read()
    served = Image.open(io.BytesIO(response.data))
    assert 0x010F not in served.getexif()


@pytest.mark.parametrize("path", [
    "/media/" + "0" * 64,                 # well-formed, unknown
    "/media/" + "A" * 64,                 # upper-case hex is not how we store it
    "/media/abc",                          # too short
    "/media/..%2F..%2Fgridintake.db",      # traversal attempts
    "/media/../gridintake.db",
    "/media/%2e%2e/%2e%2e/etc/passwd",
])
def test_unknown_or_malformed_names_are_404(media, path):
    _, client = media
    assert client.get(path).status_code == 404


def test_a_photo_not_attached_to_a_case_is_not_served(media):
    env, client = media
    attachment = _attach(env, None, _image("JPEG"))
    assert client.get(f"/media/{attachment.sha256}").status_code == 404


def test_a_stored_path_outside_the_photo_store_is_not_served(media):
    env, client = media
    number = env.file()
    outside = env.runtime.config.data_dir / "secret.jpg"
    outside.write_bytes(_image("JPEG"))
    digest = "f" * 64
    with transaction(env.runtime.sessions) as session:
        case_id = session.query(Case.id).filter_by(number=number).scalar()
        session.add(Attachment(case_id=case_id, path=str(outside), sha256=digest,
                               mime="image/jpeg", size=1))
    assert client.get(f"/media/{digest}").status_code == 404
