"""Which addresses flows may reach: the SSRF guard's rules, as pure functions and one resolver call.

Flow designers write URLs; without a guard a flow could reach the metadata service or a database
admin port inside the deployment. An address is internal when it is not globally routable. An
IPv6 address that carries an IPv4 address (mapped, compatible, NAT64, 6to4, Teredo) reaches that
IPv4 address, so it is judged by it; numeric host spellings that ``inet_aton`` accepts
(``2130706433``, ``0x7f.1``, ``017700000001``) are judged by the address they spell.

The guard resolves a host name once (:meth:`HttpGuard.addresses`) and the connection is made to
the addresses it returned (``server.runtime.guarded_transport``): nothing resolves the name again
between the check and the connection, so a DNS answer that changes (rebinding) cannot slip past.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address, IPv6Network, ip_address, ip_network

import httpx

IPAddress = IPv4Address | IPv6Address
Resolver = Callable[[str, int], Awaitable[list[IPAddress]]]

NAT64_WELL_KNOWN = IPv6Network("64:ff9b::/96")
# Special-purpose blocks that are not globally routable but that ``is_global`` calls global in
# some Python versions (the ``ipaddress`` tables were revised in 3.11.10, 3.12.4 and 3.13): the
# local-use NAT64 prefix (RFC 8215, where the IPv4 address sits depends on the operator's prefix
# length, so the whole block is internal), site-local (deprecated, still routed by some stacks),
# the IPv6 documentation block of RFC 9637 and SRv6 SIDs (RFC 9602).
NOT_GLOBAL = tuple(
    ip_network(block) for block in ("64:ff9b:1::/48", "fec0::/10", "3fff::/20", "5f00::/16")
)
# ISATAP interface identifiers (RFC 5214): ::0:5efe:a.b.c.d and ::200:5efe:a.b.c.d (the
# universal/local bit set) route to a.b.c.d inside the site behind the ISATAP router.
ISATAP_IDENTIFIERS = (0x0000_5EFE, 0x0200_5EFE)


class BlockedAddress(Exception):
    pass


def literal_address(host: str) -> IPAddress | None:
    """The address a host spells, in every form the resolver would accept; None for a name."""
    try:
        return ip_address(host)
    except ValueError:
        pass
    try:
        # inet_aton reads the classic BSD spellings (decimal, octal, hex, fewer than four parts)
        # exactly as getaddrinfo does; it makes no network request.
        return IPv4Address(socket.inet_aton(host))
    except OSError:
        return None


def carried_ipv4(address: IPv6Address) -> tuple[IPv4Address, ...]:
    """The IPv4 addresses that traffic to this IPv6 address is delivered to, if it is a carrier."""
    if address.ipv4_mapped is not None:
        return (address.ipv4_mapped,)
    if address.sixtofour is not None:
        return (address.sixtofour,)
    if address.teredo is not None:
        return address.teredo  # (server, client): both receive the traffic
    if address in NAT64_WELL_KNOWN or int(address) >> 32 == 0:  # NAT64 or ::a.b.c.d
        return (IPv4Address(int(address) & 0xFFFF_FFFF),)
    return ()


def isatap_ipv4(address: IPv6Address) -> IPv4Address | None:
    if (int(address) >> 32) & 0xFFFF_FFFF in ISATAP_IDENTIFIERS:
        return IPv4Address(int(address) & 0xFFFF_FFFF)
    return None


def is_internal(address: IPAddress) -> bool:
    """True unless the address (or the IPv4 address it carries) is globally routable unicast."""
    if isinstance(address, IPv6Address):
        carried = carried_ipv4(address)
        if carried:
            return any(is_internal(ipv4) for ipv4 in carried)
        isatap = isatap_ipv4(address)
        if isatap is not None and is_internal(isatap):
            return True
    if address.is_multicast or address.is_unspecified or not address.is_global:
        return True
    return any(address in block for block in NOT_GLOBAL)


async def system_resolver(host: str, port: int) -> list[IPAddress]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    addresses: list[IPAddress] = []
    for info in infos:
        address = ip_address(info[4][0])
        if address not in addresses:
            addresses.append(address)
    return addresses


@dataclass(frozen=True)
class HttpGuard:
    allow_private: bool = False
    allowed_hosts: tuple[str, ...] = ()
    # Injectable so tests can play a DNS server whose answer changes between look-ups.
    resolver: Resolver = system_resolver

    def check_url(self, url: str) -> None:
        """The scheme and host; parsed by httpx, so the host is the one the client connects to."""
        try:
            parts = httpx.URL(url)
        except httpx.InvalidURL as exc:
            raise BlockedAddress(f"invalid URL: {exc}") from exc
        if parts.scheme not in ("http", "https"):
            raise BlockedAddress(f"scheme {parts.scheme!r} is not allowed")
        if not parts.host:
            raise BlockedAddress("URL has no host")

    def allows_any_address(self, host: str) -> bool:
        return self.allow_private or host.lower() in {h.lower() for h in self.allowed_hosts}

    async def addresses(self, host: str, port: int) -> list[IPAddress]:
        """Resolve ``host`` once; the connection must use these addresses and no others.

        An allowed host (or ``allow_private``) skips the address check, not the single look-up.
        """
        literal = literal_address(host)
        addresses = [literal] if literal is not None else await self.resolver(host, port)
        if not addresses:
            raise BlockedAddress(f"{host} has no address")
        if self.allows_any_address(host):
            return addresses
        for address in addresses:
            if is_internal(address):
                raise BlockedAddress(
                    f"{host} resolves to {address}, an internal address; set "
                    "THREADLINE_HTTP_ALLOWED_HOSTS or THREADLINE_HTTP_ALLOW_PRIVATE to allow it"
                )
        return addresses
