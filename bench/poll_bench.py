"""Feed polling throughput: newsdesk's poller beside a plain aiohttp + feedparser loop.

N feeds of 20 items are served by ``tests.feedserver`` in a process of its own, on uvloop, every
body rendered before the first request (a site serves its feed from a cache). This machine has
2 cores, so the server's CPU is taken from the contenders: the figures are a floor. Each
contender runs in a fresh subprocess, so its CPU time and peak RSS are its own:

- **poller**: N feeds subscribed (one channel) in a fresh database, then
  ``FeedPoller.poll_due`` twice: a *cold* pass (every feed answers 200 and is parsed, items
  remembered, the newest posted to the outbox) and a *warm* pass (every feed answers 304 to
  its ETag: only the storage bookkeeping of next check and validators remains);
- **plain**: ``aiohttp`` GETs with no conditional headers and ``feedparser.parse`` on the event
  loop, as a naive poller does: both of its passes are cold. It is slow, so it runs on the
  first ``--plain-feeds`` feeds (default 1,000) and its rate is per feed all the same.

    python3 -m bench.poll_bench                     # 1,000 feeds, SQLite
    python3 -m bench.poll_bench --feeds 10000       # 10,000 feeds
    python3 -m bench.poll_bench --db-url postgresql+asyncpg://postgres@127.0.0.1:5432/test

The poller runs as ``newsdesk run`` runs it: on uvloop where installed, with the garbage
collector tuned (:mod:`bot.tuning`). The baselines run on plain asyncio, as a script does
(``--uvloop`` puts them on uvloop too). The cold ratio is taken against the faster of the plain
loop's two passes.

Reported per pass: feeds/s, CPU seconds (poller process plus its parse workers), and peak RSS
(the poller process; the workers' peak beside it). Only 127.0.0.1 is contacted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._lag import LagTicker, percentile  # noqa: E402

_CLK_TCK = os.sysconf("SC_CLK_TCK")


def _proc_cpu_s(pid: int) -> float:
    """User + system CPU seconds of a live process, from /proc."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _CLK_TCK


def _proc_peak_rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _self_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _self_peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# --- the contenders (each in its own subprocess) ---------------------------------------------


async def run_plain(base_url: str, feeds: int, concurrency: int) -> dict[str, Any]:
    import aiohttp
    import feedparser

    urls = [f"{base_url}/feed/{n}.xml" for n in range(feeds)]
    results: dict[str, Any] = {}
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as session:
        for name in ("cold", "again"):
            queue = iter(urls)
            parsed = 0

            async def worker(queue: Any = queue) -> None:
                nonlocal parsed
                for url in queue:
                    async with session.get(url) as response:
                        body = await response.read()
                    if feedparser.parse(body).entries:
                        parsed += 1

            cpu, started = _self_cpu_s(), time.perf_counter()
            await asyncio.gather(*(worker() for _ in range(concurrency)))
            elapsed = time.perf_counter() - started
            results[name] = {
                "feeds": feeds,
                "parsed": parsed,
                "seconds": elapsed,
                "feeds_per_s": feeds / elapsed,
                "cpu_s": _self_cpu_s() - cpu,
            }
    results["peak_rss_mb"] = _self_peak_rss_mb()
    return results


async def run_minimal(base_url: str, feeds: int, concurrency: int) -> dict[str, Any]:
    """The machine's ceiling: bare aiohttp with If-None-Match, no checks, no storage."""
    import aiohttp

    urls = [f"{base_url}/feed/{n}.xml" for n in range(feeds)]
    etags: dict[str, str | None] = {}
    results: dict[str, Any] = {}
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as session:
        for name in ("learn", "warm"):
            queue = iter(urls)

            async def worker(queue: Any = queue) -> None:
                for url in queue:
                    etag = etags.get(url)
                    headers = {"If-None-Match": etag} if etag else {}
                    async with session.get(url, headers=headers) as response:
                        await response.read()
                        etags[url] = response.headers.get("ETag")

            cpu, started = _self_cpu_s(), time.perf_counter()
            await asyncio.gather(*(worker() for _ in range(concurrency)))
            elapsed = time.perf_counter() - started
            results[name] = {"feeds": feeds, "seconds": elapsed, "feeds_per_s": feeds / elapsed,
                             "cpu_s": _self_cpu_s() - cpu}  # fmt: skip
    results["peak_rss_mb"] = _self_peak_rss_mb()
    return results


async def run_poller(
    base_url: str, feeds: int, db_url: str, concurrency: int, workers: int
) -> dict[str, Any]:
    from bot.config import FeedSettings, FetchSettings
    from bot.feeds.parser_pool import ParserPool
    from bot.feeds.poller import FeedPoller
    from bot.fetch import Fetcher
    from bot.storage import Database
    from bot.storage.feed_records import NewFeed
    from bot.storage.feeds import FeedStore
    from bot.tuning import tune_gc

    db = Database(db_url)
    await db.upgrade()
    t0 = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)
    urls = [f"{base_url}/feed/{n}.xml" for n in range(feeds)]
    await FeedStore(db).subscribe(
        [NewFeed(u) for u in urls], channel_id=1, guild_id=1, created_by=None, now=t0
    )
    settings = FeedSettings(poll_concurrency=concurrency, min_interval_s=60)
    fetch = FetchSettings(allow_private_networks=True, per_host_concurrency=concurrency)
    pool = ParserPool(workers)  # the bot's own parse pool
    await pool.start()  # workers started and warmed up before timing, as the bot does at launch
    results: dict[str, Any] = {}
    tune_gc()  # as `newsdesk run` does once started
    async with Fetcher(fetch) as fetcher:
        poller = FeedPoller(FeedStore(db), fetcher, settings, parser=pool)
        for name, now in (("cold", t0), ("warm", t0 + timedelta(days=2))):
            worker_pids = list(pool.worker_pids)
            cpu_main, cpu_workers = _self_cpu_s(), sum(_proc_cpu_s(p) for p in worker_pids)
            async with LagTicker() as lags:
                started = time.perf_counter()
                stats = await poller.poll_due(now)
                elapsed = time.perf_counter() - started
            cpu_main = _self_cpu_s() - cpu_main
            cpu_workers = sum(_proc_cpu_s(p) for p in worker_pids) - cpu_workers
            results[name] = {
                "feeds": stats.claimed,
                "parsed": stats.parsed,
                "not_modified": stats.not_modified,
                "failed": stats.failed,
                "posts": stats.posts,
                "new_items": stats.new_items,
                "seconds": elapsed,
                "feeds_per_s": stats.claimed / elapsed,
                "cpu_s": cpu_main + cpu_workers,
                "cpu_main_s": cpu_main,
                "lag_ms": _lag_ms(lags),
            }
    results["peak_rss_mb"] = _self_peak_rss_mb()
    results["worker_peak_rss_mb"] = max((_proc_peak_rss_mb(p) for p in pool.worker_pids), default=0.0)
    await pool.close()
    await db.close()
    return results


def _lag_ms(lags: list[float]) -> dict[str, float]:
    lags = lags or [0.0]
    return {"p50": percentile(lags, 0.5) * 1e3, "p99": percentile(lags, 0.99) * 1e3, "max": max(lags) * 1e3}


# --- orchestration -----------------------------------------------------------------------------


def _child(args: argparse.Namespace) -> None:
    from bot.tuning import run_event_loop

    # The poller runs on the event loop `newsdesk run` uses; the baselines on asyncio's own,
    # as a plain script does, unless --uvloop.
    if args.child == "poller":
        result = run_event_loop(
            run_poller(args.base_url, args.feeds, args.db_url, args.concurrency, args.workers)
        )
    else:
        if args.uvloop:
            import uvloop

            asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
        if args.child == "plain":
            result = asyncio.run(run_plain(args.base_url, args.plain_feeds, args.concurrency))
        else:
            result = asyncio.run(run_minimal(args.base_url, args.feeds, args.concurrency))
    print(json.dumps(result))


def _run_child(kind: str, args: argparse.Namespace, base_url: str, db_url: str) -> dict[str, Any]:
    command = [
        sys.executable, "-m", "bench.poll_bench", "--child", kind, "--base-url", base_url,
        "--feeds", str(args.feeds), "--plain-feeds", str(args.plain_feeds), "--db-url", db_url,
        "--concurrency", str(args.concurrency), "--workers", str(args.workers),
        *(["--uvloop"] if args.uvloop else []),
    ]  # fmt: skip
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{kind} run failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _postgres_fresh(url: str) -> str:
    """A fresh database next to the one in ``url`` (dropped by :func:`_postgres_drop`)."""
    import asyncpg
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    name = f"newsdesk_poll_bench_{os.getpid()}"
    admin = parsed.set(drivername="postgresql").render_as_string(hide_password=False)

    async def create() -> None:
        conn = await asyncpg.connect(admin)
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()

    asyncio.run(create())
    return parsed.set(database=name).render_as_string(hide_password=False)


def _postgres_drop(url: str) -> None:
    import asyncpg
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    admin = parsed.set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)

    async def drop() -> None:
        conn = await asyncpg.connect(admin)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)')
        finally:
            await conn.close()

    asyncio.run(drop())


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--feeds", type=int, default=1000, help="feeds served and subscribed (1000, 10000)")
    parser.add_argument("--plain-feeds", type=int, default=1000, help="feeds the plain loop fetches")
    parser.add_argument("--concurrency", type=int, default=64, help="requests in flight (both contenders)")
    parser.add_argument("--workers", type=int, default=2, help="parse processes of the poller")
    parser.add_argument("--uvloop", action="store_true", help="run the baselines on uvloop too")
    parser.add_argument("--db-url", default=None, help="database (default: a temporary SQLite file)")
    parser.add_argument("--child", choices=["plain", "minimal", "poller"], help=argparse.SUPPRESS)
    parser.add_argument("--base-url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args)
        return
    args.plain_feeds = min(args.plain_feeds, args.feeds)

    server = subprocess.Popen(
        [sys.executable, "-m", "tests.feedserver", "--feeds", str(args.feeds)],
        cwd=ROOT, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert server.stdout is not None
        base_url = server.stdout.readline().strip()
        with tempfile.TemporaryDirectory() as tmp:
            if args.db_url and args.db_url.startswith("postgresql"):
                db_url = _postgres_fresh(args.db_url)
            else:
                db_url = args.db_url or f"sqlite+aiosqlite:///{tmp}/bench.db"
            try:
                server_cpu = _proc_cpu_s(server.pid)
                plain = _run_child("plain", args, base_url, db_url)
                server_cpu_plain = _proc_cpu_s(server.pid) - server_cpu
                poller = _run_child("poller", args, base_url, db_url)
                server_cpu_poller = _proc_cpu_s(server.pid) - server_cpu - server_cpu_plain
                minimal = _run_child("minimal", args, base_url, db_url)
            finally:
                if db_url.startswith("postgresql"):
                    _postgres_drop(db_url)
    finally:
        server.terminate()
        server.wait(10)

    db_kind = db_url.split("+", 1)[0]
    from bot.tuning import event_loop_name

    loops = f"poller on {event_loop_name()}, baselines on {'uvloop' if args.uvloop else 'asyncio'}"
    load = os.getloadavg()[0]
    print(f"poll_bench: {args.feeds} feeds of 20 items, server in its own process, {db_kind}, {loops}, "
          f"concurrency {args.concurrency}, {os.cpu_count()} cores, load average {load:.1f}")  # fmt: skip
    print(f"{'contender':<28}{'feeds':>7}{'feeds/s':>10}{'seconds':>9}{'CPU s':>8}{'peak RSS MB':>13}")
    rows = [
        ("plain aiohttp+feedparser #1", plain["cold"], plain["peak_rss_mb"]),
        ("plain aiohttp+feedparser #2", plain["again"], plain["peak_rss_mb"]),
        ("poller cold (200, parsed)", poller["cold"], poller["peak_rss_mb"]),
        ("poller warm (304)", poller["warm"], poller["peak_rss_mb"]),
        ("bare aiohttp 304 (ceiling)", minimal["warm"], minimal["peak_rss_mb"]),
    ]
    for name, r, rss in rows:
        print(
            f"{name:<28}{r['feeds']:>7}{r['feeds_per_s']:>10.0f}{r['seconds']:>9.2f}{r['cpu_s']:>8.2f}{rss:>13.0f}"
        )
    print(f"poller CPU s in its event loop process: cold {poller['cold']['cpu_main_s']:.2f}, "
          f"warm {poller['warm']['cpu_main_s']:.2f} (the rest is the parse workers)")  # fmt: skip
    print(f"poller parse workers: peak RSS {poller['worker_peak_rss_mb']:.0f} MB each at most")
    for name in ("cold", "warm"):
        lag = poller[name]["lag_ms"]
        print(f"event-loop lag during the {name} pass: p50 {lag['p50']:.1f} ms, p99 {lag['p99']:.1f} ms, "
              f"max {lag['max']:.0f} ms")  # fmt: skip
    print(f"server CPU s: {server_cpu_plain:.1f} during plain, {server_cpu_poller:.1f} during poller")
    cold = poller["cold"]
    warm = poller["warm"]
    print(f"cold: parsed {cold['parsed']}, new items {cold['new_items']}, posts {cold['posts']}, "
          f"failed {cold['failed']}; warm: 304s {warm['not_modified']}, failed {warm['failed']}")  # fmt: skip
    # Against the faster of the plain loop's two passes (its first pays for connections).
    plain_rate = max(plain["cold"]["feeds_per_s"], plain["again"]["feeds_per_s"])
    ratio = cold["feeds_per_s"] / plain_rate
    ceiling = warm["feeds_per_s"] / minimal["warm"]["feeds_per_s"]
    print(f"cold pass / plain loop: {ratio:.1f}x (target >= 5x); warm pass {warm['feeds_per_s']:.0f} feeds/s "
          f"(target >= 5000), {ceiling:.0%} of bare aiohttp; peak RSS {poller['peak_rss_mb']:.0f} MB "
          "(target < 250)")  # fmt: skip


if __name__ == "__main__":
    main()
