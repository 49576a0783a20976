"""Connection-level SSRF guard: every address we connect to is checked.

Checking the URL's host is not enough: a public name can resolve to a private
address (or change its answer between a check and the connection, "DNS
rebinding"), and a redirect can point anywhere. So the check sits where the
addresses are produced and used:

- :class:`GuardedResolver` wraps aiohttp's resolver and drops addresses we may
  not connect to; the connector then only ever sees checked addresses (and
  caches them, so a second lookup cannot rebind).
- :func:`guarded_socket_factory` checks the address again as the socket is
  made, which also covers IP-literal hosts that aiohttp never resolves.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Collection

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult

from bot.errors import BlockedAddressError
from bot.fetch.addresses import IPNetwork, is_allowed, is_local_hostname, parse_ip

BLOCKED_MESSAGE = "This link points to a private or local network address, which is not allowed."

AddrInfo = tuple[int, int, int, str, tuple[str, int] | tuple[str, int, int, int]]


class BlockedConnectionError(OSError):
    """Raised by the socket factory; an OSError so every aiohttp code path wraps it the same way."""


class AddressPolicy:
    """Which addresses may be connected to: public ones, plus what the settings allow."""

    def __init__(self, *, allow_private: bool, allowed_networks: Collection[IPNetwork] = ()) -> None:
        self.allow_private = allow_private
        self.allowed_networks = tuple(allowed_networks)

    def allows(self, address: str) -> bool:
        parsed = parse_ip(address)
        if parsed is None:
            return False  # not an address at all: never connect to something we cannot judge
        return is_allowed(parsed, allow_private=self.allow_private, allowed_networks=self.allowed_networks)

    def allows_host_name(self, host: str) -> bool:
        return self.allow_private or not is_local_hostname(host)


class GuardedResolver(AbstractResolver):
    """Resolve with ``base``, then keep only the addresses the policy allows."""

    def __init__(self, base: AbstractResolver, policy: AddressPolicy, *, owns_base: bool) -> None:
        self._base = base
        self._policy = policy
        self._owns_base = owns_base

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        if not self._policy.allows_host_name(host):
            raise BlockedAddressError(BLOCKED_MESSAGE)
        results = await self._base.resolve(host, port, family=family)
        allowed = [result for result in results if self._policy.allows(result["host"])]
        if not allowed:
            # Partly private answers keep their public addresses; wholly private ones are refused.
            raise BlockedAddressError(BLOCKED_MESSAGE)
        return allowed

    async def close(self) -> None:
        if self._owns_base:
            await self._base.close()


def guarded_socket_factory(policy: AddressPolicy) -> Callable[[AddrInfo], socket.socket]:
    """A socket factory for :class:`aiohttp.TCPConnector` that refuses disallowed peers."""

    def make_socket(addr_info: AddrInfo) -> socket.socket:
        family, type_, proto, _, address = addr_info
        if not policy.allows(address[0]):
            raise BlockedConnectionError(f"refusing to connect to {address[0]}")
        return socket.socket(family=family, type=type_, proto=proto)

    return make_socket


def guarded_connector(resolver: GuardedResolver, policy: AddressPolicy) -> aiohttp.TCPConnector:
    """A connector whose every connection goes through the policy. Call inside the running loop.

    The connector does not close a resolver it was given: close ``resolver`` after it.
    """
    return aiohttp.TCPConnector(
        resolver=resolver,
        socket_factory=guarded_socket_factory(policy),
        limit=100,
        limit_per_host=0,  # the fetcher's own per-host limit applies, across ports and schemes
        ttl_dns_cache=60,
    )
