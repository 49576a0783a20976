"""Tests of ``ExtractorPool``: real worker processes, real slow pages, real kills.

The slow page is not a test hook: it is a genuinely large page (about 1.2 MB,
10,000 paragraphs) that takes trafilatura several seconds, well over the short
time limits these tests set.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from pathlib import Path

import pytest

from bot.errors import ExtractBusyError, ExtractError, ExtractTimeoutError, NotAnArticleError
from bot.extract import ExtractorPool, extract

PAGES = Path(__file__).parent / "data" / "pages"
URL = "https://www.harbourgazette.example/news/2025/03/riverside-park-approved"


def golden(name: str) -> str:
    return (PAGES / f"{name}.html").read_text(encoding="utf-8")


def huge_page(paragraphs: int) -> str:
    body = "".join(
        f"<div class='c{i % 7}'><p>Paragraph {i} of a very long story, with <a href='/x{i}'>a link</a> "
        "and enough words in it to be read as text.</p></div>"
        for i in range(paragraphs)
    )
    return f"<html><head><title>Long</title></head><body><article><h1>Long</h1>{body}</article></body></html>"


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


async def test_pool_extracts_pages_in_parallel_like_extract() -> None:
    names = ["latest-semantic", "latest-plain-divs", "latest-before-article", "read-more-inline"] * 2
    async with ExtractorPool(workers=2, timeout_s=20) as pool:
        assert len(pool.worker_pids) == 2
        articles = await asyncio.gather(*(pool.extract(golden(n), URL) for n in names))

    for name, article in zip(names, articles, strict=True):
        assert article == extract(golden(name), URL)


async def test_pool_raises_not_an_article_like_extract() -> None:
    async with ExtractorPool(workers=1, timeout_s=20) as pool:
        with pytest.raises(NotAnArticleError):
            await pool.extract("<html><body><nav><a href='/'>Home</a></nav></body></html>", URL)
        # The worker is still serving.
        article = await pool.extract(golden("latest-semantic"), URL)
    assert article.author == "Lena Okafor"


async def test_a_page_over_the_time_limit_is_stopped_and_the_worker_serves_on() -> None:
    async with ExtractorPool(workers=1, timeout_s=0.5) as pool:
        (pid,) = pool.worker_pids
        started = time.monotonic()
        with pytest.raises(ExtractTimeoutError) as info:
            await pool.extract(huge_page(10_000), URL)
        assert time.monotonic() - started < 2.0
        assert isinstance(info.value, TimeoutError)

        # Stopped inside its worker, which serves the next page at once.
        article = await pool.extract(golden("latest-plain-divs"), URL)
        assert article.title.startswith("Harbour City council approves")
        assert pool.worker_pids == {pid}


async def test_other_requests_are_served_while_one_page_times_out() -> None:
    async with ExtractorPool(workers=2, timeout_s=1.5) as pool:
        slow = asyncio.create_task(pool.extract(huge_page(10_000), URL))
        await asyncio.sleep(0.05)  # let the slow page take its worker
        fast = await asyncio.gather(*(pool.extract(golden("latest-semantic"), URL) for _ in range(3)))
        assert not slow.done()
        assert all(a.site_name == "The Harbour Gazette" for a in fast)
        with pytest.raises(ExtractTimeoutError):
            await slow


async def test_beyond_max_queue_a_page_is_refused_as_busy_at_once() -> None:
    async with ExtractorPool(workers=1, timeout_s=30, max_queue=2) as pool:
        slow = asyncio.create_task(pool.extract(huge_page(10_000), URL))  # takes the worker
        waiting = [asyncio.create_task(pool.extract(golden("latest-semantic"), URL)) for _ in range(2)]
        await asyncio.sleep(0.3)
        assert not slow.done()

        started = time.monotonic()
        with pytest.raises(ExtractBusyError) as info:
            await pool.extract(golden("latest-semantic"), URL)
        assert time.monotonic() - started < 0.1  # refused without waiting for a worker
        assert isinstance(info.value, ExtractError)
        assert "try again in a moment" in str(info.value)

        # The pages in the queue are served, and once it has room a page is taken again.
        await slow
        assert all(a.author == "Lena Okafor" for a in await asyncio.gather(*waiting))
        article = await pool.extract(golden("latest-semantic"), URL)
        assert article.author == "Lena Okafor"


@pytest.mark.allow_error_logs("died")
async def test_worker_that_dies_is_replaced() -> None:
    async with ExtractorPool(workers=1, timeout_s=30) as pool:
        (pid,) = pool.worker_pids
        task = asyncio.create_task(pool.extract(huge_page(10_000), URL))
        await asyncio.sleep(0.3)
        os.kill(pid, signal.SIGKILL)  # what the kernel's OOM killer would do

        with pytest.raises(ExtractError) as info:
            await task
        assert not isinstance(info.value, ExtractTimeoutError)
        article = await pool.extract(golden("latest-semantic"), URL)
        assert article.author == "Lena Okafor"
        assert pid not in pool.worker_pids


@pytest.mark.allow_error_logs("died")
async def test_pool_fails_fast_when_no_worker_can_be_started(monkeypatch: pytest.MonkeyPatch) -> None:
    """A replacement that cannot start (a fault injected: the interpreter is gone) leaves
    callers with an error, not waiting forever."""
    async with ExtractorPool(workers=1, timeout_s=30) as pool:
        (pid,) = pool.worker_pids
        task = asyncio.create_task(pool.extract(huge_page(10_000), URL))
        await asyncio.sleep(0.3)
        monkeypatch.setattr(sys, "executable", "/nonexistent/python3")
        os.kill(pid, signal.SIGKILL)
        with pytest.raises(ExtractError):
            await task
        with pytest.raises(ExtractError, match="no working process"):
            await asyncio.wait_for(pool.extract(golden("latest-semantic"), URL), timeout=10)


async def test_cancelled_request_does_not_poison_the_pool() -> None:
    async with ExtractorPool(workers=1, timeout_s=20) as pool:
        (first_pid,) = pool.worker_pids
        task = asyncio.create_task(pool.extract(huge_page(10_000), URL))
        await asyncio.sleep(0.3)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

        # The answer to the cancelled page must not be taken for the next page's, and the
        # next page must not wait for the abandoned one: its worker was replaced.
        started = time.monotonic()
        article = await pool.extract(golden("read-more-inline"), URL)
        assert article.title.startswith("Harbour City council approves")
        assert first_pid not in pool.worker_pids
        assert time.monotonic() - started < 5
        assert not alive(first_pid)


async def test_event_loop_keeps_ticking_while_workers_are_busy() -> None:
    lags: list[float] = []

    async def ticker(stop: asyncio.Event) -> None:
        while not stop.is_set():
            before = time.perf_counter()
            await asyncio.sleep(0.005)
            lags.append(time.perf_counter() - before - 0.005)

    async with ExtractorPool(workers=2, timeout_s=60) as pool:
        stop = asyncio.Event()
        tick = asyncio.create_task(ticker(stop))
        await asyncio.gather(*(pool.extract(huge_page(1_000), URL) for _ in range(4)))
        stop.set()
        await tick

    assert len(lags) > 20
    # Parsing in the loop would stall it for the length of a page (~0.4 s here, every page);
    # the bounds leave room for a machine shared with other work.
    assert sorted(lags)[int(0.95 * len(lags))] < 0.05
    assert max(lags) < 0.25


async def test_close_leaves_no_processes_and_refuses_new_work() -> None:
    pool = ExtractorPool(workers=2, timeout_s=20)
    await pool.extract(golden("latest-semantic"), URL)
    pids = pool.worker_pids
    assert len(pids) == 2
    assert all(alive(pid) for pid in pids)

    await pool.close()

    assert pool.worker_pids == frozenset()
    assert not any(alive(pid) for pid in pids)
    with pytest.raises(ExtractError):
        await pool.extract(golden("latest-semantic"), URL)


async def test_close_fails_requests_in_flight_and_waiting() -> None:
    pool = ExtractorPool(workers=1, timeout_s=30)
    await pool.start()
    (pid,) = pool.worker_pids
    in_flight = asyncio.create_task(pool.extract(huge_page(10_000), URL))
    waiting = asyncio.create_task(pool.extract(golden("latest-semantic"), URL))
    await asyncio.sleep(0.2)

    await pool.close()

    for task in (in_flight, waiting):
        with pytest.raises(ExtractError):
            await task
    assert not alive(pid)


def test_pool_arguments_are_checked() -> None:
    with pytest.raises(ValueError):
        ExtractorPool(workers=0, timeout_s=1)
    with pytest.raises(ValueError):
        ExtractorPool(workers=1, timeout_s=0)
