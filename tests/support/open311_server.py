"""A gateway served over loopback with an Open311 client's api_key, for the server's tests."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import httpx

from tests.support.http import live_gateway
from tests.support.users import add_user


@dataclass
class Open311Server:
    runtime: object
    base: str  # .../open311/v2
    api_key: str
    http: httpx.Client

    def post(self, path: str, data=None, *, content: bytes | None = None, json=None,
             headers: dict | None = None, key: bool = True) -> httpx.Response:
        """POST form fields (plus our api_key unless key=False), raw bytes or JSON."""
        params = {"api_key": self.api_key} if key and content is None and json is None else None
        form = {**(data or {}), **(params or {})} if data is not None or params else None
        return self.http.post(f"{self.base}/{path}", data=form, content=content, json=json,
                              headers=headers)


@contextmanager
def open311_server(runtime, client_name: str = "fixmystreet") -> Iterator[Open311Server]:
    api_key = add_user(runtime, client_name, "open311")
    with live_gateway(runtime) as url, httpx.Client(timeout=30) as http:
        yield Open311Server(runtime, f"{url}/open311/v2", api_key, http)
