"""Refuse connections to private, loopback, link-local and other non-public addresses.

The check runs inside the connection pool's network backend, on the address the socket is
about to connect to: the host name is resolved once, every answer is checked, and the socket
connects to a checked IP. So neither a DNS answer, a rebinding trick nor a redirect can
smuggle in 127.0.0.1, 10.x, 169.254.169.254 or ::1. TLS still verifies the original host name
(httpcore passes it as ``server_hostname``).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import typing
from collections.abc import Awaitable, Callable, Iterable

import httpcore
import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
#: ``async resolve(host, port) -> [ip, ...]``; tests substitute their own.
Resolver = Callable[[str, int], Awaitable[list[str]]]


class BlockedAddress(Exception):
    """A URL's host is, or resolves to, an address the policy refuses."""

    def __init__(self, host: str, address: str, why: str) -> None:
        self.host, self.address, self.why = host, address, why
        shown = address if address == host else f"{host} -> {address}"
        super().__init__(f"refused to connect to {shown}: {why} address")


async def system_resolve(host: str, port: int) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(
        host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
    )
    seen: dict[str, None] = {}
    for _family, _type, _proto, _canon, sockaddr in infos:
        seen[str(sockaddr[0])] = None
    return list(seen)


def parse_networks(spec: str | Iterable[str]) -> tuple[IPNetwork, ...]:
    """``"127.0.0.0/8, ::1/128"`` -> networks; raises ValueError on a bad entry."""
    items = spec.split(",") if isinstance(spec, str) else list(spec)
    return tuple(ipaddress.ip_network(item.strip(), strict=False) for item in items if item.strip())


#: IPv6 prefixes that carry an IPv4 address a relay or translator will connect to.
NAT64_WELL_KNOWN = ipaddress.IPv6Network("64:ff9b::/96")  # RFC 6052: last 32 bits
#: Refused whatever they embed, with the name given (stdlib flags differ between releases).
_SPECIAL: tuple[tuple[IPNetwork, str], ...] = (
    (ipaddress.IPv6Network("2001::/32"), "teredo"),  # RFC 4380: a relay picks the peer
    (ipaddress.IPv6Network("64:ff9b:1::/48"), "private"),  # RFC 8215 local-use NAT64
    (ipaddress.IPv6Network("fec0::/10"), "site-local"),  # RFC 3879, deprecated, still routed
    (ipaddress.IPv4Network("192.0.0.0/24"), "ietf-protocol"),  # RFC 6890 (DS-Lite, NAT64 ...)
)


def embedded_ipv4(address: IPAddress) -> tuple[ipaddress.IPv4Address, str] | None:
    """The IPv4 address an IPv6 form delivers to (mapped, 6to4, NAT64), and the form's name."""
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped, "mapped"
    if address.sixtofour is not None:  # 2002:AABB:CCDD::/48 -> AA.BB.CC.DD
        return address.sixtofour, "6to4"
    if address in NAT64_WELL_KNOWN:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF), "NAT64"
    return None


def classify(address: IPAddress) -> str | None:
    """Why this address is not public, or None when it is a global unicast address.

    IPv6 forms that embed an IPv4 address (mapped ``::ffff:a.b.c.d``, 6to4 ``2002::/16``,
    NAT64 ``64:ff9b::/96``) are judged by the IPv4 address they reach; Teredo, site-local,
    local-use NAT64 and 192.0.0.0/24 are refused by name.
    """
    embedded = embedded_ipv4(address)
    if embedded is not None:
        inner, form = embedded
        why = classify(inner)
        if why is None or form == "mapped":
            return why
        return f"{form}-embedded {why}"
    for network, name in _SPECIAL:
        if address.version == network.version and address in network:
            return name
    checks = (
        ("loopback", address.is_loopback),
        ("unspecified", address.is_unspecified),
        ("link-local", address.is_link_local),
        ("multicast", address.is_multicast),
        ("private", address.is_private),
        ("reserved", address.is_reserved),
    )
    for name, hit in checks:
        if hit:
            return name
    return None if address.is_global else "non-global"


class AddressPolicy:
    """Which addresses may be fetched: public ones, plus explicitly allowed networks."""

    def __init__(
        self, allow_networks: str | Iterable[str] = "", resolve: Resolver = system_resolve
    ) -> None:
        self.allowed = parse_networks(allow_networks)
        self.resolve = resolve

    def refusal(self, address: str) -> str | None:
        ip = ipaddress.ip_address(address.split("%", 1)[0])  # drop an IPv6 zone id
        why = classify(ip)
        if why is None:
            return None
        embedded = embedded_ipv4(ip)
        candidates = [ip] if embedded is None else [ip, embedded[0]]
        for candidate in candidates:  # an allowed 127.0.0.0/8 also allows ::ffff:127.0.0.1
            if any(candidate.version == net.version and candidate in net for net in self.allowed):
                return None
        return why

    async def checked_addresses(self, host: str, port: int) -> list[str]:
        """Resolve ``host`` and return its addresses; BlockedAddress if any is refused.

        One refused answer refuses the host: a name that maps to both a public and a private
        address is either misconfigured or an attack.
        """
        bare = host.strip("[]")
        try:
            ipaddress.ip_address(bare.split("%", 1)[0])
            addresses = [bare]
        except ValueError:
            addresses = await self.resolve(bare, port)
        if not addresses:
            raise OSError(f"{host} did not resolve")
        for address in addresses:
            why = self.refusal(address)
            if why is not None:
                raise BlockedAddress(bare, address, why)
        return addresses


class GuardedNetworkBackend(httpcore.AsyncNetworkBackend):
    """httpcore backend that connects only to addresses the policy accepts."""

    def __init__(self, policy: AddressPolicy) -> None:
        self.policy = policy
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: typing.Iterable[typing.Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        addresses = await self.policy.checked_addresses(host, port)
        last_error: Exception | None = None
        for address in addresses:  # pinned: connect to the checked IP, never re-resolve
            try:
                return await self._inner.connect_tcp(
                    address,
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last_error = exc
        assert last_error is not None
        raise last_error

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: typing.Iterable[typing.Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise BlockedAddress(path, path, "unix socket")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def guarded_transport(
    policy: AddressPolicy, max_connections: int = 100
) -> httpx.AsyncHTTPTransport:
    """An httpx transport whose every connection goes through ``policy``.

    It ignores proxy environment variables: a proxy would connect on our behalf and so
    bypass the address check.
    """
    transport = httpx.AsyncHTTPTransport(
        trust_env=False,
        limits=httpx.Limits(
            max_connections=max_connections, max_keepalive_connections=max_connections
        ),
    )
    # Same pool httpx would build, with the guarded network backend plugged in.
    old_pool = transport._pool
    transport._pool = httpcore.AsyncConnectionPool(
        ssl_context=old_pool._ssl_context,
        max_connections=max_connections,
        max_keepalive_connections=max_connections,
        keepalive_expiry=30.0,
        network_backend=GuardedNetworkBackend(policy),
    )
    return transport
