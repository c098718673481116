"""Where photos, residents' raw media and exports are kept, behind one small interface
(`MediaStore`: put, get, exists, delete by key), so that every gateway and worker of a city
reads what any of them wrote.

Three backends: the data directory (the embedded default: one host only), a table of blobs in
the database (chosen when the database is PostgreSQL and nothing else is set: every host
already shares it), and S3-compatible object storage through boto3 (MinIO, Ceph, a cloud's S3
API). Keys are relative paths such as ``photos/ab/<sha256>.jpg``; content-addressed keys never
change their bytes, so a second put of the same key is harmless on every backend."""

from __future__ import annotations

import os
import re
import uuid
from pathlib import Path
from typing import Protocol

from sqlalchemy import Engine, delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from settings.typed import MediaSettings
from storage.models import MediaBlob

KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)*")
BACKENDS = ("local", "database", "s3")


class MediaStore(Protocol):
    """Bytes by key; `get` returns None for a key never stored (or deleted)."""

    name: str

    def put(self, key: str, data: bytes) -> None: ...

    def get(self, key: str) -> bytes | None: ...

    def exists(self, key: str) -> bool: ...

    def delete(self, key: str) -> None: ...


def checked_key(key: str) -> str:
    """A key is a relative path of plain names: no `..`, no leading slash, no backslash, so no
    key can reach outside the store whatever the backend."""
    if len(key) > 300 or not KEY.fullmatch(key) or ".." in key.split("/"):
        raise ValueError(f"not a media key: {key!r}")
    return key


def photo_key(digest: str, suffix: str) -> str:
    """The key of a stored photo (suffix `.orig`, or the shared copy's `.jpg` / `.png`); the
    same path under the data directory where `bot.photos.store_photo` writes it."""
    return f"photos/{digest[:2]}/{digest}{suffix}"


class LocalStore:
    """Files under one directory (the data directory): written to a temporary name and renamed,
    so a reader never sees half a file."""

    name = "local"

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, key: str) -> Path:
        return self.root / checked_key(key)

    def put(self, key: str, data: bytes) -> None:
        target = self.path(key)
        target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        partial = target.with_name(f".{target.name}.{uuid.uuid4().hex}.part")
        with os.fdopen(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as out:
            out.write(data)  # residents' data: the service's user only, whatever the umask
        os.replace(partial, target)

    def get(self, key: str) -> bytes | None:
        try:
            return self.path(key).read_bytes()
        except (FileNotFoundError, IsADirectoryError):
            return None

    def exists(self, key: str) -> bool:
        return self.path(key).is_file()

    def delete(self, key: str) -> None:
        self.path(key).unlink(missing_ok=True)


class DatabaseStore:
    """A `media_blob` row per key (bytea on PostgreSQL): no second service to run, and every
    host that shares the database shares the media."""

    name = "database"

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def put(self, key: str, data: bytes) -> None:
        values = {"key": checked_key(key), "data": data, "size": len(data)}
        with Session(self.engine) as session, session.begin():
            if self.engine.dialect.name == "postgresql":
                statement = pg_insert(MediaBlob).values(values)
                session.execute(statement.on_conflict_do_update(
                    index_elements=[MediaBlob.key], set_={"data": data, "size": len(data)}))
                return
            row = session.get(MediaBlob, key)
            if row is None:
                session.add(MediaBlob(**values))
            else:
                row.data, row.size = data, len(data)

    def get(self, key: str) -> bytes | None:
        with Session(self.engine) as session:
            return session.scalar(select(MediaBlob.data).where(MediaBlob.key == checked_key(key)))

    def exists(self, key: str) -> bool:
        with Session(self.engine) as session:
            return session.scalar(select(MediaBlob.size).where(MediaBlob.key == checked_key(key))) is not None

    def delete(self, key: str) -> None:
        with Session(self.engine) as session, session.begin():
            session.execute(delete(MediaBlob).where(MediaBlob.key == checked_key(key)))


class S3Store:
    """Objects in one bucket (under an optional prefix) of any S3-compatible service; the
    credentials come from boto3's usual places (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, a
    profile, an instance role)."""

    name = "s3"

    def __init__(self, bucket: str, endpoint_url: str = "", region: str = "", prefix: str = "") -> None:
        import boto3  # only a city that stores media in S3 needs it loaded
        from botocore.config import Config as BotoConfig

        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.client = boto3.client(
            "s3", endpoint_url=endpoint_url or None, region_name=region or None,
            config=BotoConfig(retries={"max_attempts": 4, "mode": "standard"},
                              s3={"addressing_style": "path"}))
        self._missing = self.client.exceptions.NoSuchKey

    def _key(self, key: str) -> str:
        return self.prefix + checked_key(key)

    def put(self, key: str, data: bytes) -> None:
        self.client.put_object(Bucket=self.bucket, Key=self._key(key), Body=data)

    def get(self, key: str) -> bytes | None:
        try:
            return self.client.get_object(Bucket=self.bucket, Key=self._key(key))["Body"].read()
        except self._missing:
            return None

    def exists(self, key: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.client.head_object(Bucket=self.bucket, Key=self._key(key))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise
        return True

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self._key(key))


def open_store(backend: str, *, data_dir: Path, engine: Engine, s3_bucket: str = "",
               s3_endpoint_url: str = "", s3_region: str = "", s3_prefix: str = "") -> MediaStore:
    """The configured store. Empty `backend`: the database on PostgreSQL (shared by every host
    already), the data directory otherwise."""
    if not backend:
        backend = "database" if engine.dialect.name == "postgresql" else "local"
    if backend == "local":
        return LocalStore(data_dir)
    if backend == "database":
        return DatabaseStore(engine)
    if backend == "s3":
        if not s3_bucket:
            raise ValueError("[media] backend = \"s3\" needs s3_bucket (GRIDINTAKE_MEDIA_S3_BUCKET)")
        return S3Store(s3_bucket, s3_endpoint_url, s3_region, s3_prefix)
    raise ValueError(f"[media] backend = {backend!r}: use one of {', '.join(BACKENDS)} or leave it empty")



def store_for(media: MediaSettings, data_dir: Path, engine: Engine) -> MediaStore:
    """The store `[media]` configures (`Runtime.media`, and commands that run without one)."""
    return open_store(media.backend, data_dir=data_dir, engine=engine, s3_bucket=media.s3_bucket,
                      s3_endpoint_url=media.s3_endpoint_url, s3_region=media.s3_region,
                      s3_prefix=media.s3_prefix)
