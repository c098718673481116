"""A local S3-compatible server for the tests (moto's server, from PyPI), reached over real HTTP
on a loopback port, with a fresh bucket."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from tests.support.dependencies import missing
from tests.support.processes import free_port

# moto accepts any credentials; boto3 needs some to sign its requests.
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "gridintake-test", "AWS_SECRET_ACCESS_KEY": "gridintake-test",
               "AWS_DEFAULT_REGION": "us-east-1"}


@dataclass(frozen=True)
class S3Server:
    endpoint_url: str
    bucket: str

    def env(self) -> dict[str, str]:
        """What a gridintake process needs to keep its media in this bucket."""
        return {**CREDENTIALS, "GRIDINTAKE_MEDIA_BACKEND": "s3", "GRIDINTAKE_MEDIA_S3_BUCKET": self.bucket,
                "GRIDINTAKE_MEDIA_S3_ENDPOINT_URL": self.endpoint_url}


@contextmanager
def s3_server(monkeypatch) -> Iterator[S3Server]:
    """Start moto's threaded server, make a bucket, stop the server afterwards."""
    try:
        import boto3
        from moto.server import ThreadedMotoServer
    except ImportError as exc:
        missing("moto[server] and boto3", str(exc))
    for name, value in CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        endpoint = f"http://127.0.0.1:{port}"
        bucket = f"media-{uuid.uuid4().hex[:8]}"
        boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket=bucket)
        yield S3Server(endpoint, bucket)
    finally:
        server.stop()
