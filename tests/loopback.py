"""Real HTTP servers on the loopback interface, for tests.

    async with serve(app) as base_url:          # "http://127.0.0.1:PORT"
        ...

Only ever binds loopback addresses: tests never talk to anything else.
"""

from __future__ import annotations

import ipaddress
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiohttp import web


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
