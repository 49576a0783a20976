"""HostLimiter: at most ``limit`` holders per host, hosts forgotten once idle, per-host
overrides and spacing, a pause for a host that answers 429/503, and each process's share of
the limits when N processes share them."""

from __future__ import annotations

import asyncio

import pytest
from aiohttp import web

from bot.config import FetchSettings
from bot.fetch import Fetcher
from bot.fetch.limits import BACKOFF_BASE_S, BACKOFF_MAX_S, RETRY_AFTER_MAX_S, HostLimiter, Limit
from tests.loopback import serve


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
    # The k-th start is booked k intervals after the first. A start may be late (a loaded
    # machine wakes a sleeper late), never early; so no gap between two starts is asserted.
    assert all(start >= began + k * 0.05 - 0.001 for k, start in enumerate(sorted(starts))), starts
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


# --- the whole bot's limits, shared by N processes -------------------------------------------


def test_each_process_takes_its_share_of_a_hosts_limit_rounded_down_but_never_none() -> None:
    processes = [1]
    limiter = HostLimiter(4, {"slow.example": Limit(5, 0.5)}, share=lambda: processes[0])
    whole = limiter.bot_limit_for("slow.example")
    assert whole == Limit(5, 0.5)
    assert limiter.share_of(whole) is whole  # alone: the whole limit, untouched
    expected = {2: Limit(2, 1.0), 3: Limit(1, 1.5), 5: Limit(1, 2.5), 9: Limit(1, 4.5)}
    for n, share in expected.items():
        processes[0] = n
        assert limiter.share_of(whole) == share
        # What the poller plans with: this process's share.
        assert limiter.limit_for("www.slow.example") == share
        assert limiter.bot_limit_for("www.slow.example") == whole
        assert share.concurrency * n <= whole.concurrency or share.concurrency == 1
    processes[0] = 2
    assert limiter.limit_for("other.example") == Limit(2)
    processes[0] = 0  # a count that missed this process itself
    assert limiter.share_of(whole) is whole


async def test_a_share_of_two_halves_a_hosts_concurrency_seen_by_a_real_server() -> None:
    """Two processes (two fetchers) with N = 2 have 2 + 2 requests in flight to a host whose
    limit is 4; the server counts them."""
    inflight, peak = [0], [0]
    reached, gate = asyncio.Event(), asyncio.Event()

    async def slow(request: web.Request) -> web.Response:
        inflight[0] += 1
        peak[0] = max(peak[0], inflight[0])
        if inflight[0] >= 4:
            reached.set()
        await gate.wait()
        inflight[0] -= 1
        return web.Response(text="<html><body>ok</body></html>", content_type="text/html")

    app = web.Application()
    app.router.add_get("/{n}", slow)
    settings = FetchSettings(allow_private_networks=True, per_host_concurrency=4)
    async with serve(app) as base, Fetcher(settings) as one, Fetcher(settings) as two:
        for fetcher in (one, two):
            fetcher.limits.share_with(lambda: 2)
        fetches = [
            asyncio.create_task(fetcher.fetch(f"{base}/{n}")) for n in range(8) for fetcher in (one, two)
        ]
        try:
            await asyncio.wait_for(reached.wait(), 10)
            await asyncio.sleep(0.3)  # time for a request beyond the share to arrive (none may)
            assert inflight[0] == 4
            assert one.limits.busy("127.0.0.1") == two.limits.busy("127.0.0.1") == 8  # 2 in, 6 wait
        finally:
            gate.set()
            results = await asyncio.gather(*fetches, return_exceptions=True)
    assert [getattr(r, "status", r) for r in results] == [200] * 16
    assert peak[0] == 4


async def test_a_shrinking_share_holds_new_requests_until_the_host_is_within_it() -> None:
    processes = [1]
    limiter = HostLimiter(4, share=lambda: processes[0])
    release = asyncio.Event()
    inside, peak = [0], [0]

    async def visit() -> None:
        async with limiter.hold("a.example"):
            inside[0] += 1
            peak[0] = max(peak[0], inside[0])
            await release.wait()
            inside[0] -= 1

    first = [asyncio.create_task(visit()) for _ in range(4)]
    await asyncio.sleep(0.01)
    assert inside[0] == 4  # alone: the whole limit
    processes[0] = 4  # three more processes came up: one place each
    later = [asyncio.create_task(visit()) for _ in range(3)]
    await asyncio.sleep(0.01)
    assert inside[0] == 4 and limiter.busy("a.example") == 7  # the newcomers wait
    release.set()
    await asyncio.gather(*first, *later)
    assert peak[0] == 4 and limiter.in_use() == 0


async def test_a_share_of_two_doubles_the_spacing_of_a_hosts_requests() -> None:
    limiter = HostLimiter(4, {"a.example": Limit(4, 0.05)}, share=lambda: 2)
    starts: list[float] = []
    loop = asyncio.get_running_loop()

    async def visit() -> None:
        async with limiter.hold("a.example"):
            starts.append(loop.time())

    began = loop.time()
    await asyncio.gather(*(visit() for _ in range(4)))
    assert all(start >= began + k * 0.1 - 0.001 for k, start in enumerate(sorted(starts))), starts
