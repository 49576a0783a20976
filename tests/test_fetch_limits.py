"""HostLimiter: at most ``limit`` holders per host, hosts forgotten once idle, per-host
overrides and spacing, and a pause for a host that answers 429/503."""

from __future__ import annotations

import asyncio
import itertools

import pytest

from bot.fetch.limits import BACKOFF_BASE_S, BACKOFF_MAX_S, RETRY_AFTER_MAX_S, HostLimiter, Limit


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


async def test_an_override_covers_the_host_and_its_subdomains_only() -> None:
    limiter = HostLimiter(4, {"Reddit.com.": Limit(1, 2.0)})
    assert limiter.limit_for("www.reddit.com") == limiter.limit_for("REDDIT.COM") == Limit(1, 2.0)
    assert limiter.limit_for("old.reddit.com.") == Limit(1, 2.0)
    assert limiter.limit_for("notreddit.com") == limiter.limit_for("reddit.com.evil.example") == Limit(4)
    inside, peak = [0], [0]

    async def visit() -> None:
        async with limiter.hold("www.reddit.com"):
            inside[0] += 1
            peak[0] = max(peak[0], inside[0])
            await asyncio.sleep(0.001)
            inside[0] -= 1

    limiter = HostLimiter(4, {"reddit.com": Limit(1)})
    await asyncio.gather(*(visit() for _ in range(5)))
    assert peak == [1]


async def test_min_interval_spaces_the_starts_of_requests() -> None:
    limiter = HostLimiter(4, {"a.example": Limit(4, 0.05)})
    starts: list[float] = []
    loop = asyncio.get_running_loop()

    async def visit(host: str) -> None:
        async with limiter.hold(host):
            starts.append(loop.time())

    began = loop.time()
    await asyncio.gather(*(visit("a.example") for _ in range(4)))
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert all(gap >= 0.045 for gap in gaps), gaps
    # Another host is not spaced.
    starts.clear()
    await asyncio.gather(*(visit("b.example") for _ in range(4)))
    assert max(starts) - min(starts) < 0.04
    assert limiter.in_use() == 0 and loop.time() - began < 1


def test_a_refusing_host_is_paused_alone_backs_off_and_recovers() -> None:
    now = [1000.0]
    limiter = HostLimiter(4, clock=lambda: now[0])
    # Its Retry-After first, exactly; every refusal after that waits longer, doubling.
    assert limiter.refused("a.example", "5") == pytest.approx(5, abs=1)
    assert limiter.blocked_for("A.example.") == pytest.approx(5, abs=1)
    assert limiter.blocked_for("b.example") == 0
    now[0] += 6
    assert limiter.blocked_for("a.example") == 0
    assert limiter.refused("a.example") == 2 * BACKOFF_BASE_S
    assert limiter.refused("a.example", "1") == 4 * BACKOFF_BASE_S
    assert limiter.refused("a.example") == 8 * BACKOFF_BASE_S
    assert limiter.blocked_for("a.example") == 8 * BACKOFF_BASE_S
    # A long Retry-After is honoured, up to a day.
    assert limiter.refused("b.example", "7200") == pytest.approx(7200, abs=1)
    assert limiter.refused("c.example", "99999999") == RETRY_AFTER_MAX_S
    # Each success takes one doubling back: after four, a.example is back to full pace.
    now[0] += BACKOFF_MAX_S
    for _ in range(4):
        limiter.answered("a.example")
    assert limiter.refused("a.example") == BACKOFF_BASE_S
    for _ in range(100):
        assert limiter.refused("d.example") <= BACKOFF_MAX_S
