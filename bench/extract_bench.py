"""Extraction throughput: the process pool against trafilatura in one process, and event-loop lag.

Over the same pages in the same run, each round measures:

- ``trafilatura.extract(html)`` (defaults) page after page in this process;
- ``bot.extract.extract`` page after page in this process (our per-page cost, for reference);
- ``ExtractorPool.extract`` with every page submitted at once, while a ticker
  coroutine sleeps 1 ms at a time and records how late it wakes (the loop lag).

Run: ``python3 -m bench.extract_bench [--workers N] [--rounds R] [--data DIR]``.
Targets: pool >= 1.7x the single-process trafilatura rate on 2 cores; lag p99 < 5 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import sys
import time
from pathlib import Path

import trafilatura

from bench.extract_quality import DEFAULT_DATA, Page, load_pages
from bot.errors import ExtractError
from bot.extract import ExtractorPool, extract

_TICK_S = 0.001


def single_process_rate(pages: list[Page], *, ours: bool) -> float:
    started = time.perf_counter()
    for page in pages:
        if ours:
            with contextlib.suppress(ExtractError):
                extract(page.html, page.url)
        else:
            trafilatura.extract(page.html, url=page.url)
    return len(pages) / (time.perf_counter() - started)


async def pool_rate(pool: ExtractorPool, pages: list[Page]) -> tuple[float, list[float], float]:
    """Pages per second through the pool, the ticker's lags (seconds) meanwhile, and the
    CPU seconds this (the event loop's) process spent per page, ticker included."""
    lags: list[float] = []
    stop = asyncio.Event()

    async def ticker() -> None:
        while not stop.is_set():
            before = time.perf_counter()
            await asyncio.sleep(_TICK_S)
            lags.append(max(0.0, time.perf_counter() - before - _TICK_S))

    async def one(page: Page) -> None:
        with contextlib.suppress(ExtractError):
            await pool.extract(page.html, page.url)

    tick = asyncio.create_task(ticker())
    await asyncio.sleep(0.01)
    started = time.perf_counter()
    cpu_started = time.process_time()
    await asyncio.gather(*(one(page) for page in pages))
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - cpu_started
    stop.set()
    await tick
    return len(pages) / elapsed, lags, cpu / len(pages)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def run(pages: list[Page], workers: int, rounds: int) -> None:
    # Warm both sides: imports, stop lists and caches are not what is measured.
    single_process_rate(pages[:5], ours=False)
    single_process_rate(pages[:5], ours=True)
    baseline_rates, ours_rates, pool_rates, all_lags = [], [], [], []
    async with ExtractorPool(workers=workers, timeout_s=60) as pool:
        await pool_rate(pool, pages[:10])
        for round_number in range(1, rounds + 1):
            baseline = single_process_rate(pages, ours=False)
            ours = single_process_rate(pages, ours=True)
            pooled, lags, loop_cpu = await pool_rate(pool, pages)
            baseline_rates.append(baseline)
            ours_rates.append(ours)
            pool_rates.append(pooled)
            all_lags.extend(lags)
            print(
                f"round {round_number}: trafilatura 1 proc {baseline:6.1f} p/s | ours 1 proc {ours:6.1f} p/s"
                f" | pool({workers}) {pooled:6.1f} p/s = {pooled / baseline:4.2f}x"
                f" | lag p99 {percentile(lags, 0.99) * 1000:5.2f} ms"
                f" | loop CPU {loop_cpu * 1000:4.1f} ms/page",
                flush=True,
            )
    baseline, ours, pooled = (statistics.median(r) for r in (baseline_rates, ours_rates, pool_rates))
    print()
    print(
        f"{len(pages)} pages x {rounds} rounds, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}"
    )
    print(f"{'':34} {'pages/s':>8} {'vs trafilatura':>15}")
    print(f"{'trafilatura.extract, 1 process':34} {baseline:8.1f} {1.0:14.2f}x")
    print(f"{'bot.extract.extract, 1 process':34} {ours:8.1f} {ours / baseline:14.2f}x")
    print(
        f"{f'ExtractorPool({workers} workers)':34} {pooled:8.1f} {pooled / baseline:14.2f}x   (target >= 1.7x)"
    )
    print(
        f"event-loop lag while saturated: p50 {percentile(all_lags, 0.5) * 1000:.2f} ms, "
        f"p99 {percentile(all_lags, 0.99) * 1000:.2f} ms, max {max(all_lags) * 1000:.2f} ms "
        f"over {len(all_lags)} ticks   (target p99 < 5 ms)"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    if not (args.data / "ground-truth.json").is_file():
        print(f"benchmark data not found in {args.data}", file=sys.stderr)
        return 2
    asyncio.run(run(load_pages(args.data), args.workers, args.rounds))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
