"""Real HTTP servers on the loopback interface, for tests.

    async with serve(app) as base_url:          # "http://127.0.0.1:PORT"
        ...

Only ever binds loopback addresses: tests never talk to anything else.
:class:`StaticResolver` answers DNS from a table, so tests never ask real DNS.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager

from aiohttp import web
from aiohttp.abc import AbstractResolver, ResolveResult


@asynccontextmanager
async def serve(app: web.Application, host: str = "127.0.0.1") -> AsyncIterator[str]:
    """Run ``app`` on a free port of ``host`` (a loopback address) and yield its base URL."""
    if not ipaddress.ip_address(host).is_loopback:
        raise ValueError(f"tests only serve on loopback addresses, not {host}")
    runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, host, 0)
    try:
        await site.start()
        port = runner.addresses[0][1]
        netloc = f"[{host}]" if ":" in host else host
        yield f"http://{netloc}:{port}"
    finally:
        await runner.cleanup()


class StaticResolver(AbstractResolver):
    """A DNS resolver answering from a fixed table, so tests never ask real DNS.

    Unknown names fail like a real NXDOMAIN. ``queries`` records every lookup.
    """

    def __init__(self, table: Mapping[str, Sequence[str]]) -> None:
        self.table = {name.lower(): list(addresses) for name, addresses in table.items()}
        self.queries: list[str] = []

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        self.queries.append(host)
        addresses = self.table.get(host.rstrip(".").lower())
        if not addresses:
            raise OSError(socket.EAI_NONAME, f"{host} does not resolve (test resolver)")
        return [
            ResolveResult(
                hostname=host,
                host=address,
                port=port,
                family=socket.AF_INET6 if ":" in address else socket.AF_INET,
                proto=0,
                flags=socket.AI_NUMERICHOST,
            )
            for address in addresses
        ]

    async def close(self) -> None:
        pass
