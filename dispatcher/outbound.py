"""Every request the dispatcher makes to a URL that a person or the config chose: Web Push
endpoints (chosen by a phone), the phone channels' platforms and gateways, the city webhook.

The rule (server-side request forgery is the risk: a worker's push endpoint pointing at the
town's intranet, answered by the dispatcher on the worker's behalf):
- ``https`` only; ``http`` only to an address the town allowed (``outbound.allow_networks``,
  e.g. an SMS gateway on the town's own network);
- the host's every address (as resolved now) must be a public one, or inside an allowed
  network: never loopback, private, link-local, shared, multicast or reserved otherwise;
- the request goes to the address that was checked (the host name still verifies the TLS
  certificate and fills ``Host``), so a second DNS answer cannot slip in (DNS rebinding);
- redirects are never followed: a 3xx answer is an answer, not a new destination.

Push endpoints must also be on a known push service (``outbound.push_hosts``). What a remote
server answers is never handed back to users: callers keep only its status code.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import urlsplit

import httpx

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], list[str]]

# The push services of the browsers people use (FCM for Chrome and Android, Mozilla's autopush,
# Apple's Web Push for Safari and iOS home-screen apps, Windows' WNS for Edge). A leading dot
# matches the name and any name below it.
DEFAULT_PUSH_HOSTS = (
    "fcm.googleapis.com", "android.googleapis.com", ".push.services.mozilla.com", ".push.apple.com",
    ".notify.windows.com",
)


class UrlRefused(ValueError):
    """An outbound URL the rule does not allow; the message says which part and why."""


def system_resolver(host: str, port: int) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:  # a network failure, worth trying again: not a refusal
        raise httpx.ConnectError(f"{host} does not resolve ({exc.strerror})") from None
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _internal(address: IpAddress) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return not address.is_global or address.is_multicast


def host_matches(host: str, patterns: Sequence[str]) -> bool:
    """``host`` is one of ``patterns`` (``.example.com``: that name or any below it)."""
    host = host.lower().rstrip(".")
    for pattern in patterns:
        pattern = pattern.lower()
        if pattern.startswith("."):
            if host == pattern[1:] or host.endswith(pattern):
                return True
        elif host == pattern:
            return True
    return False


class OutboundGuard:
    """Checks outbound URLs and resolves them to an address that may be called."""

    def __init__(self, allow_networks: Sequence[IpNetwork | str] = (), push_hosts: Sequence[str] = DEFAULT_PUSH_HOSTS,
                 resolver: Resolver = system_resolver) -> None:
        self.allow_networks = [ipaddress.ip_network(n) for n in allow_networks]
        self.push_hosts = list(push_hosts)
        self.resolver = resolver

    def _allowed(self, address: IpAddress) -> bool:
        return any(address in network for network in self.allow_networks if network.version == address.version)

    def check(self, url: str, push: bool = False) -> tuple[str, int]:
        """The URL's host and port if its form may be called (no DNS yet); else UrlRefused."""
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError as exc:
            raise UrlRefused(f"not a URL: {exc}") from None
        host = (parts.hostname or "").lower()
        if parts.scheme not in ("https", "http") or not host:
            raise UrlRefused("an outbound URL must be https://host/...")
        if parts.username is not None or parts.password is not None:
            raise UrlRefused("an outbound URL may not carry a user name or password")
        if push and not host_matches(host, self.push_hosts):
            raise UrlRefused(f"{host} is not a known push service (outbound.push_hosts)")
        try:
            literal: IpAddress | None = ipaddress.ip_address(host)
        except ValueError:
            literal = None
        if literal is not None:
            self._check_address(host, literal, parts.scheme)
        return host, port or (443 if parts.scheme == "https" else 80)

    def _check_address(self, host: str, address: IpAddress, scheme: str) -> None:
        allowed = self._allowed(address)
        if _internal(address) and not allowed:
            raise UrlRefused(f"{host} is {address}, an internal address (loopback, private, link-local or "
                             "reserved); allow its network in outbound.allow_networks if the town means it")
        if scheme == "http" and not allowed:
            raise UrlRefused(f"plain http to {host}: only https, or http inside outbound.allow_networks")

    def resolve(self, url: str, push: bool = False) -> tuple[str, str]:
        """(host, address to connect to) for ``url``; every address the host has must pass."""
        host, port = self.check(url, push)
        scheme = urlsplit(url).scheme
        addresses = self.resolver(host, port)
        if not addresses:
            raise UrlRefused(f"{host} has no address")
        for text in addresses:
            self._check_address(host, ipaddress.ip_address(text.split("%")[0]), scheme)
        return host, addresses[0]


class GuardedClient(httpx.Client):
    """An httpx client whose every request passes the guard and goes to the checked address.
    A refused URL raises ``UrlRefused`` (an ``httpx.RequestError`` is what the network says)."""

    def __init__(self, guard: OutboundGuard, push: bool = False, **kwargs: Any) -> None:
        kwargs["follow_redirects"] = False
        kwargs.setdefault("trust_env", False)  # no proxy from the environment between us and the check
        super().__init__(**kwargs)
        self.guard = guard
        self.push = push

    def send(self, request: httpx.Request, **kwargs: Any) -> httpx.Response:  # type: ignore[override]
        host, address = self.guard.resolve(str(request.url), self.push)
        if host != address:  # a name: connect to the checked address, verify TLS for the name
            request.url = request.url.copy_with(host=address)
            request.extensions = {**request.extensions, "sni_hostname": host}
        kwargs["follow_redirects"] = False
        return super().send(request, **kwargs)


def remote_outcome(response: httpx.Response, what: str) -> str:
    """What users may read of a remote answer: who answered and its status, never its body."""
    return f"{what} answered {response.status_code}"
