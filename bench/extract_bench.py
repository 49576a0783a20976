"""Extraction throughput: the process pool against trafilatura in one process, and event-loop lag.

Over the same pages in the same run, each round measures:

- ``trafilatura.extract(html)`` (defaults) page after page in this process;
- ``bot.extract.extract`` page after page in this process (our per-page cost, for reference);
- ``ExtractorPool.extract`` with every page submitted at once, while a ticker
  coroutine sleeps 1 ms at a time and records how late it wakes (the loop lag).

Run: ``python3 -m bench.extract_bench [--workers N] [--rounds R] [--niceness K] [--data DIR]``.
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
from dataclasses import dataclass
from pathlib import Path

import trafilatura

from bench._lag import TICK_S, LagTicker, percentile
from bench.extract_quality import DEFAULT_DATA, Page, load_pages
from bot.errors import ExtractError
from bot.extract import ExtractorPool, extract
from bot.workers.pipe import DEFAULT_NICENESS


@dataclass(frozen=True, slots=True)
class Rate:
    pages_per_s: float
    #: CPU milliseconds per page, in the process(es) doing the extraction.
    cpu_ms_per_page: float


def single_process_rate(pages: list[Page], *, ours: bool) -> Rate:
    started, cpu_started = time.perf_counter(), time.process_time()
    for page in pages:
        if ours:
            with contextlib.suppress(ExtractError):
                extract(page.html, page.url)
        else:
            trafilatura.extract(page.html, url=page.url)
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    return Rate(len(pages) / wall, cpu / len(pages) * 1000)


def process_cpu_s(pids: frozenset[int]) -> float | None:
    """User + system CPU seconds of ``pids`` (Linux /proc), or None where unavailable."""
    total = 0
    try:
        for pid in pids:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
    except (OSError, IndexError, ValueError):
        return None
    return total / os.sysconf("SC_CLK_TCK")


async def pool_rate(pool: ExtractorPool, pages: list[Page]) -> tuple[Rate, list[float], float]:
    """Throughput of the pool (workers' CPU per page), the ticker's lags (seconds) meanwhile,
    and the CPU milliseconds per page of this, the event loop's, process (ticker included)."""

    async def one(page: Page) -> None:
        with contextlib.suppress(ExtractError):
            await pool.extract(page.html, page.url)

    async with LagTicker() as lags:
        await asyncio.sleep(0.01)
        pids = pool.worker_pids
        workers_cpu_started = process_cpu_s(pids)
        started, cpu_started = time.perf_counter(), time.process_time()
        await asyncio.gather(*(one(page) for page in pages))
        wall, loop_cpu = time.perf_counter() - started, time.process_time() - cpu_started
        workers_cpu_ended = process_cpu_s(pids)
    workers_cpu = (
        (workers_cpu_ended - workers_cpu_started) / len(pages) * 1000
        if workers_cpu_started is not None and workers_cpu_ended is not None
        else float("nan")
    )
    return Rate(len(pages) / wall, workers_cpu), lags, loop_cpu / len(pages) * 1000


async def run(pages: list[Page], workers: int, rounds: int, niceness: int) -> None:
    # Warm both sides: imports, stop lists and caches are not what is measured.
    single_process_rate(pages[:5], ours=False)
    single_process_rate(pages[:5], ours=True)
    baselines: list[Rate] = []
    ours_single: list[Rate] = []
    pooled: list[Rate] = []
    loop_cpus: list[float] = []
    lags: list[float] = []
    async with ExtractorPool(workers=workers, timeout_s=60, niceness=niceness) as pool:
        await pool_rate(pool, pages[:10])
        for round_number in range(1, rounds + 1):
            baselines.append(single_process_rate(pages, ours=False))
            ours_single.append(single_process_rate(pages, ours=True))
            rate, round_lags, loop_cpu = await pool_rate(pool, pages)
            pooled.append(rate)
            loop_cpus.append(loop_cpu)
            lags.extend(round_lags)
            print(
                f"round {round_number}: trafilatura 1 proc {baselines[-1].pages_per_s:5.1f} p/s"
                f" | ours 1 proc {ours_single[-1].pages_per_s:5.1f} p/s"
                f" | pool({workers}) {rate.pages_per_s:5.1f} p/s"
                f" = {rate.pages_per_s / baselines[-1].pages_per_s:4.2f}x"
                f" | lag p99 {percentile(round_lags, 0.99) * 1000:5.2f} ms",
                flush=True,
            )

    def median(rates: list[Rate]) -> Rate:
        return Rate(
            statistics.median(r.pages_per_s for r in rates),
            statistics.median(r.cpu_ms_per_page for r in rates),
        )

    base, ours, pool_median = median(baselines), median(ours_single), median(pooled)
    load = os.getloadavg()[0]
    print()
    print(f"{len(pages)} pages x {rounds} rounds (medians), {os.cpu_count()} CPUs, load average {load:.2f}")
    print(f"{'':34} {'pages/s':>8} {'vs trafilatura':>15} {'CPU ms/page':>12}")
    rows = [
        ("trafilatura.extract, 1 process", base),
        ("bot.extract.extract, 1 process", ours),
        (f"ExtractorPool({workers} workers)", pool_median),
    ]
    for label, rate in rows:
        print(
            f"{label:34} {rate.pages_per_s:8.1f} {rate.pages_per_s / base.pages_per_s:14.2f}x"
            f" {rate.cpu_ms_per_page:12.1f}"
        )
    print(f"{'  event loop process, per page':34} {'':8} {'':15} {statistics.median(loop_cpus):12.1f}")
    # On a shared machine the wall-clock rates depend on what else runs; CPU per page does not
    # as much, so this says what the pool would do on otherwise idle cores.
    estimate = workers * base.cpu_ms_per_page / pool_median.cpu_ms_per_page
    print(
        f"CPU-bound estimate on {workers} idle cores: {workers} x {base.cpu_ms_per_page:.1f}"
        f" / {pool_median.cpu_ms_per_page:.1f} ms = {estimate:.2f}x trafilatura (not a measurement)"
    )
    print("target: pool >= 1.7x trafilatura.extract in 1 process")
    print(
        f"event-loop lag while saturated: p50 {percentile(lags, 0.5) * 1000:.2f} ms, "
        f"p99 {percentile(lags, 0.99) * 1000:.2f} ms, max {max(lags) * 1000:.2f} ms "
        f"over {len(lags)} ticks of {TICK_S * 1000:g} ms (target p99 < 5 ms)"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--niceness", type=int, default=DEFAULT_NICENESS, help="workers' added nice value")
    args = parser.parse_args(argv)
    if not (args.data / "ground-truth.json").is_file():
        print(f"benchmark data not found in {args.data}", file=sys.stderr)
        return 2
    asyncio.run(run(load_pages(args.data), args.workers, args.rounds, args.niceness))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
