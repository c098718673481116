"""Fetching a URL that came from outside (an MMS `MediaUrl`), without letting it reach into our
own network or hold a worker.

- Only hosts on an allow-list (the provider's media hosts; `*.example.com` for subdomains) at
  every hop, over http(s), with at most `max_redirects` redirects.
- Every connection resolves the host and connects only to the address it checked: loopback,
  private, link-local, multicast, reserved and unspecified addresses are refused, so neither a
  redirect nor DNS rebinding gets in. An IP literal on the allow-list is the one exception,
  allowed when a URL names it (stand-ins in tests, an on-premises gateway).
- One deadline for the whole fetch, redirects, connects and every read included, so a server
  dripping a byte at a time cannot hold the worker; the size cap stops the download as soon as
  it is passed.

The connection-level checks live in an httpcore network backend given to httpx's transport."""

from __future__ import annotations

import ipaddress
import socket
import time
from dataclasses import dataclass

import httpcore
import httpx


class FetchError(Exception):
    """The media was not fetched: refused by policy, too large, too slow or an HTTP failure."""


@dataclass(frozen=True)
class FetchPolicy:
    hosts: tuple[str, ...]
    max_bytes: int
    deadline_s: float = 15.0
    max_redirects: int = 3

    def host_allowed(self, host: str) -> bool:
        host = host.lower().rstrip(".")
        return any(host == entry or (entry.startswith("*.") and host.endswith(entry[1:]))
                   for entry in (h.strip().lower() for h in self.hosts if h.strip()))


def public_address(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """True for an address on the public internet (IPv4-mapped IPv6 judged as IPv4)."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return not (address.is_loopback or address.is_private or address.is_link_local
                or address.is_multicast or address.is_reserved or address.is_unspecified
                or not address.is_global)


class _DeadlineStream(httpcore.NetworkStream):
    """A connection whose every read and write ends by the fetch's deadline."""

    def __init__(self, stream: httpcore.NetworkStream, deadline: float) -> None:
        self.stream = stream
        self.deadline = deadline

    def _left(self, timeout: float | None) -> float:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise httpcore.ReadTimeout("the fetch's deadline has passed")
        return left if timeout is None else min(timeout, left)

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self.stream.read(max_bytes, self._left(timeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self.stream.write(buffer, self._left(timeout))

    def close(self) -> None:
        self.stream.close()

    def start_tls(self, ssl_context, server_hostname=None, timeout=None) -> httpcore.NetworkStream:
        return _DeadlineStream(self.stream.start_tls(ssl_context, server_hostname,
                                                     self._left(timeout)), self.deadline)

    def get_extra_info(self, info: str):
        return self.stream.get_extra_info(info)


class _GuardedBackend(httpcore.SyncBackend):
    """Connects only to an address it has checked, before the deadline."""

    def __init__(self, policy: FetchPolicy, deadline: float) -> None:
        self.policy = policy
        self.deadline = deadline

    def _address(self, host: str, port: int) -> str:
        try:
            literal = ipaddress.ip_address(host.strip("[]"))
        except ValueError:
            literal = None
        if literal is not None:
            if public_address(literal) or self.policy.host_allowed(host.strip("[]")):
                return str(literal)
            raise httpcore.ConnectError(f"refused: {host} is not a public address")
        try:
            found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError as exc:
            raise httpcore.ConnectError(f"{host}: {exc}") from None
        addresses = [ipaddress.ip_address(info[4][0]) for info in found]
        blocked = [str(a) for a in addresses if not public_address(a)]
        if blocked or not addresses:
            raise httpcore.ConnectError(f"refused: {host} resolves to {', '.join(blocked) or 'nothing'}")
        return str(addresses[0])

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise httpcore.ConnectTimeout("the fetch's deadline has passed")
        address = self._address(host, port)
        stream = super().connect_tcp(address, port, left if timeout is None else min(timeout, left),
                                     local_address, socket_options)
        return _DeadlineStream(stream, self.deadline)


class _GuardedTransport(httpx.HTTPTransport):
    def __init__(self, backend: _GuardedBackend) -> None:
        super().__init__()
        # httpx builds its pool without a way to pass the network backend; the pool is rebuilt
        # with it (same TLS defaults), so every connection goes through the checks above.
        self._pool = httpcore.ConnectionPool(ssl_context=httpx.create_ssl_context(),
                                             network_backend=backend)


def fetch(url: str, policy: FetchPolicy, *, auth: tuple[str, str] | None = None,
          auth_host: str | None = None) -> bytes:
    """GET `url` under `policy`; credentials go only to `auth_host` (host[:port])."""
    deadline = time.monotonic() + policy.deadline_s
    transport = _GuardedTransport(_GuardedBackend(policy, deadline))
    with httpx.Client(transport=transport, trust_env=False, follow_redirects=False,
                      timeout=policy.deadline_s) as client:
        target = httpx.URL(url)
        for _hop in range(policy.max_redirects + 1):
            if target.scheme not in ("http", "https") or not policy.host_allowed(target.host):
                raise FetchError(f"refused: {target.host or url} is not an allowed media host")
            hop_auth = auth if auth and target.netloc.decode() == auth_host else None
            try:
                with client.stream("GET", target, auth=hop_auth) as response:
                    if response.is_redirect:
                        target = response.url.join(response.headers["location"])
                        continue
                    return _body(response, policy.max_bytes, deadline)
            except httpx.HTTPError as exc:
                raise FetchError(f"{type(exc).__name__}: {exc}") from None
        raise FetchError(f"refused: more than {policy.max_redirects} redirects")


def _body(response: httpx.Response, max_bytes: int, deadline: float) -> bytes:
    if response.status_code != 200:
        raise FetchError(f"HTTP {response.status_code}")
    declared = response.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_bytes:
        raise FetchError(f"{declared} bytes is over the {max_bytes}-byte limit")
    data = bytearray()
    for chunk in response.iter_bytes():
        data += chunk
        if len(data) > max_bytes:
            raise FetchError(f"over the {max_bytes}-byte limit")
        if time.monotonic() > deadline:
            raise FetchError("the fetch's deadline has passed")
    return bytes(data)
