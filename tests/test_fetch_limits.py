"""HostLimiter: at most ``limit`` holders per host, hosts forgotten once idle."""

from __future__ import annotations

import asyncio

from bot.fetch.limits import HostLimiter


async def test_at_most_limit_holders_per_host_and_idle_hosts_are_forgotten() -> None:
    limiter = HostLimiter(2)
    inside = {"a.example": 0, "b.example": 0}
    peak = {"a.example": 0, "b.example": 0}

    async def visit(host: str) -> None:
        async with limiter.hold(host.upper() + "."):  # one host, however it is spelt
            inside[host] += 1
            peak[host] = max(peak[host], inside[host])
            await asyncio.sleep(0.01)
            inside[host] -= 1

    await asyncio.gather(*(visit(h) for h in ["a.example"] * 6 + ["b.example"] * 3))
    assert peak == {"a.example": 2, "b.example": 2}
    assert limiter.in_use() == 0


async def test_a_waiter_cancelled_before_its_turn_leaves_nothing_behind() -> None:
    limiter = HostLimiter(1)
    release = asyncio.Event()

    async def holder() -> None:
        async with limiter.hold("a.example"):
            await release.wait()

    first = asyncio.create_task(holder())
    await asyncio.sleep(0)
    waiter = asyncio.create_task(holder())
    await asyncio.sleep(0.01)
    waiter.cancel()
    await asyncio.gather(waiter, return_exceptions=True)
    release.set()
    await first
    assert limiter.in_use() == 0
    async with limiter.hold("a.example"):  # the place is free again
        pass
