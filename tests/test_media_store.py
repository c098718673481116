"""The media store (storage/media.py): one interface over the data directory, a database table
and S3-compatible storage (moto's server over real HTTP), and what it is for: a photo or a raw
inbound message received by one host is read back by another."""

from __future__ import annotations

import io

import httpx
import pytest
from PIL import Image
from sqlalchemy import select

from bot.inbox import inbound_from_row
from bot.oneshot import file_report
from bot.types import Inbound, Photo
from cases.media_links import signed_media_url
from storage.db import make_engine, transaction
from storage.media import DatabaseStore, LocalStore, S3Store, open_store
from storage.migrate import upgrade
from storage.models import Attachment, InboundMessage
from tests.conftest import make_runtime
from tests.support.http import live_gateway
from tests.support.s3 import s3_server

SECRET = "one secret for every host of the city"


def _jpeg(colour=(30, 120, 200)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (40, 30), colour).save(out, format="JPEG")
    return out.getvalue()


@pytest.fixture(params=["local", "database", "s3"])
def store(request, tmp_path, database_url, monkeypatch):
    if request.param == "local":
        yield LocalStore(tmp_path / "media")
    elif request.param == "database":
        upgrade(database_url)
        engine = make_engine(database_url)
        yield DatabaseStore(engine)
        engine.dispose()
    else:
        with s3_server(monkeypatch) as s3:
            yield S3Store(s3.bucket, s3.endpoint_url, prefix="city")


def test_every_backend_puts_gets_replaces_and_deletes(store):
    key = "photos/ab/" + "ab" * 32 + ".jpg"
    assert store.get(key) is None and not store.exists(key)
    store.put(key, b"\xff\xd8first")
    assert store.exists(key) and store.get(key) == b"\xff\xd8first"
    store.put(key, b"\xff\xd8second")  # a second put replaces, never duplicates
    assert store.get(key) == b"\xff\xd8second"
    store.put("exports/cases.csv", "编号,类别\n".encode())
    assert store.get("exports/cases.csv").decode() == "编号,类别\n"
    store.delete(key)
    store.delete(key)  # deleting what is gone is no error
    assert store.get(key) is None and not store.exists(key)
    assert store.exists("exports/cases.csv")


@pytest.mark.parametrize("key", ["../secret_key", "/etc/passwd", "photos/../../x", "a\\b", "",
                                 "photos//x", ".hidden", "photos/x y"])
def test_no_key_reaches_outside_the_store(tmp_path, key):
    (tmp_path / "secret_key").write_bytes(b"k")
    local = LocalStore(tmp_path / "media")
    for action in (local.get, local.exists, local.delete, lambda k: local.put(k, b"x")):
        with pytest.raises(ValueError):
            action(key)
    assert (tmp_path / "secret_key").read_bytes() == b"k"


def test_unset_backend_is_the_database_on_postgresql_and_the_data_directory_otherwise(
        tmp_path, database_url):
    engine = make_engine(database_url)
    chosen = open_store("", data_dir=tmp_path, engine=engine)
    assert chosen.name == ("database" if database_url.startswith("postgresql") else "local")
    with pytest.raises(ValueError, match="s3_bucket"):
        open_store("s3", data_dir=tmp_path, engine=engine)
    with pytest.raises(ValueError, match="one of local, database, s3"):
        open_store("ftp", data_dir=tmp_path, engine=engine)
    engine.dispose()


@pytest.fixture(params=["database", "s3"])
def two_hosts(request, tmp_path, postgres_url, monkeypatch):
    """Two gateways with data directories of their own on one PostgreSQL and one store."""
    env = {"GRIDINTAKE_SECRET_KEY": SECRET}
    if request.param == "s3":
        with s3_server(monkeypatch) as s3:
            yield _hosts(tmp_path, postgres_url, env | s3.env())
    else:
        yield _hosts(tmp_path, postgres_url, env)


def _hosts(tmp_path, url, env):
    return [make_runtime(tmp_path / name, url, **env) for name in ("a", "b")]


def test_a_photo_filed_through_one_host_is_served_by_another(two_hosts):
    a, b = two_hosts
    assert a.media.name == b.media.name != "local"
    case = file_report(a, text="井盖丢了，就在淇滨大道和兴鹤街路口", photo=_jpeg())
    with transaction(a.sessions) as session:
        photo = session.scalar(select(Attachment).where(Attachment.case_id.is_not(None)))
    assert case["number"] and photo is not None
    assert not (b.config.data_dir / "photos").exists()  # nothing on B's disk
    with live_gateway(b) as base_b:
        link = signed_media_url(base_b, b.secret_key, photo.sha256, 60)
        served = httpx.get(link)
        assert served.status_code == 200 and served.headers["content-type"] == "image/jpeg"
        with open(photo.path, "rb") as on_a:
            assert served.content == on_a.read()
        assert httpx.get(link.replace("sig=", "sig=0")).status_code == 403
    for runtime in (a, b):
        runtime.db.dispose()


def test_a_raw_photo_kept_by_one_host_is_rebuilt_by_another(two_hosts):
    """`inbound retry` may run anywhere: the raw bytes are in the shared store, not in A's inbox."""
    a, b = two_hosts
    data = _jpeg((250, 10, 10))
    recorded = a.engine.inbox.record(Inbound("telegram", "7", "u1", photo=Photo(data, "image/jpeg")))
    with transaction(b.sessions) as session:
        row = session.get(InboundMessage, recorded.id)
        rebuilt = inbound_from_row(row, b.media)
    assert rebuilt.photo.data == data
    assert not (a.config.data_dir / "inbox").exists()
    for runtime in (a, b):
        runtime.db.dispose()


def test_behind_nginx_the_gateway_checks_the_link_and_nginx_sends_the_file(tmp_path):
    runtime = make_runtime(tmp_path / "var", GRIDINTAKE_MEDIA_ACCEL_REDIRECT="/_media/")
    file_report(runtime, text="路灯不亮了，在淇滨大道", photo=_jpeg())
    with transaction(runtime.sessions) as session:
        digest = session.scalar(select(Attachment.sha256))
    with live_gateway(runtime) as base:
        answer = httpx.get(signed_media_url(base, runtime.secret_key, digest, 60))
        assert answer.status_code == 200 and answer.content == b""
        key = answer.headers["X-Accel-Redirect"].removeprefix("/_media/")
        assert key == f"photos/{digest[:2]}/{digest}.jpg" and runtime.media.exists(key)
        assert answer.headers["Cache-Control"].startswith("private")
        refused = httpx.get(f"{base}/media/{digest}")
        assert refused.status_code == 403 and "X-Accel-Redirect" not in refused.headers
    runtime.db.dispose()
