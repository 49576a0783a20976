"""What the Prometheus metrics cost: a scrape of /metrics with N feeds in the database, and the
instrumentation's share of a poll pass's CPU.

N feeds of 20 items are served by ``tests.feedserver`` in a process of its own. Each contender
is a fresh subprocess running :func:`bench.poll_bench.run_poller` (N feeds subscribed, a *cold*
pass: every feed 200 and parsed, the newest item of each posted to the outbox; a *warm* pass:
every feed 304) in a fresh SQLite database:

- **off**: the metric helpers and objects of :mod:`bot.ops.metrics` replaced by no-ops;
- **on**: as the bot runs them; then the operator's listener is started on the same database
  (N feeds, the cold pass's N posts waiting in the outbox) and ``/metrics`` is scraped over
  HTTP, each scrape reading the outbox again (``uncached``: the worst case, one every
  :data:`~bot.ops.gauges.REUSE_S` s) or within the reuse window (``cached``).

Off and on alternate ``--rounds`` times; CPU is the poller process plus its parse workers. A
pass's CPU varies by a few percent from run to run on a shared machine, so the share is also
measured directly: the helpers a check calls, timed in a loop, per feed, against the pass's
CPU per feed (``direct``).

    python3 -m bench.metrics_bench                  # 10,000 feeds, 2 rounds
    python3 -m bench.metrics_bench --feeds 1000 --rounds 1

Only 127.0.0.1 is contacted.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.poll_bench import _proc_cpu_s, _self_cpu_s  # noqa: E402

SCRAPES = 40
#: How many times the amplified arm calls each helper of a warm check.
AMPLIFY = 11


class _Null:
    """Stands for a metric object when metrics are off."""

    def __getattr__(self, name: str) -> Any:
        return self

    def __call__(self, *args: object, **kwargs: object) -> Any:
        return self

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc_info: object) -> None:
        return None


def metrics_switch() -> tuple[dict[str, Any], dict[str, Any]]:
    """The attributes of :mod:`bot.ops.metrics` as they are (on), and as no-ops (off)."""
    from bot.ops import metrics

    on: dict[str, Any] = {}
    for name in dir(metrics):
        value = getattr(metrics, name)
        if name.isupper() and hasattr(value, "collect"):
            on[name] = value
    for name in ("feed_checked", "feed_failed", "poll_lag", "posts_queued", "post_done", "worker_restarted"):
        on[name] = getattr(metrics, name)
    null = _Null()
    return on, dict.fromkeys(on, null)


def amplified(on: dict[str, Any]) -> dict[str, Any]:
    """``on`` with the helpers a warm check calls made :data:`AMPLIFY` times each: their cost
    in a real pass, magnified above the noise of the pass's CPU."""

    def times(function: Any) -> Any:
        def call(*args: Any) -> None:
            for _ in range(AMPLIFY):
                function(*args)

        return call

    return {**on, "poll_lag": times(on["poll_lag"]), "feed_checked": times(on["feed_checked"])}


def use(attributes: dict[str, Any]) -> None:
    from bot.ops import metrics

    for name, value in attributes.items():
        setattr(metrics, name, value)


async def scrape_figures(db_url: str) -> dict[str, Any]:
    import aiohttp

    from bot.config import MetricsSettings
    from bot.ops.health import Readiness
    from bot.ops.http import OpsListener
    from bot.storage import Database

    db = Database(db_url)
    readiness = Readiness(db, ("worker",), presence=lambda: None, beat_limit_s=60)
    listener = OpsListener(MetricsSettings(port=0), readiness)
    await listener.start()
    url = f"http://127.0.0.1:{listener.port}/metrics"
    figures: dict[str, Any] = {}
    async with aiohttp.ClientSession() as http:

        async def scrape() -> tuple[float, bytes]:
            started = time.perf_counter()
            async with http.get(url) as response:
                body = await response.read()
            return (time.perf_counter() - started) * 1e3, body

        await scrape()  # connection and first query
        for mode in ("uncached", "cached"):
            times = []
            for _ in range(SCRAPES):
                if mode == "uncached":
                    listener._gauges._read_at = None  # as if the reuse window passed
                    readiness._last = None  # and the SELECT 1 of /readyz's checks
                ms, body = await scrape()
                times.append(ms)
            times.sort()
            figures[mode] = {
                "p50": statistics.median(times),
                "p95": times[int(0.95 * len(times)) - 1],
                "max": times[-1],
            }
        text = body.decode()
        figures["bytes"] = len(body)
        figures["series"] = sum(1 for line in text.splitlines() if line.startswith("newsdesk_"))
        figures["outbox_depth"] = next(
            float(line.split()[-1]) for line in text.splitlines() if line.startswith("newsdesk_outbox_depth ")
        )
    await listener.close()
    await db.close()
    return figures


def direct_cost_s(feeds: int) -> dict[str, float]:
    """CPU seconds per feed of the helpers a cold check (200, parsed, one new item posted) and a
    warm check (304) call."""
    from datetime import UTC, datetime

    from bot.ops import metrics

    due = datetime.now(UTC)
    rounds = max(feeds, 20_000)
    started = time.process_time()
    for _ in range(rounds):
        metrics.poll_lag(due)
        metrics.feed_checked("304")
    warm = (time.process_time() - started) / rounds
    started = time.process_time()
    for _ in range(rounds):
        metrics.poll_lag(due)
        with metrics.FEED_PARSE_SECONDS.time():
            pass
        metrics.feed_checked("200")
        metrics.NEW_ITEMS.inc(1)
        metrics.posts_queued(("feed_item",))
    cold = (time.process_time() - started) / rounds
    return {"cold": cold, "warm": warm}


async def child(
    mode: str, base_url: str, feeds: int, db_url: str, concurrency: int, workers: int, warm: int
) -> dict[str, Any]:
    """The cold pass with metrics ``mode``; then ``warm`` pairs of warm passes, off then on, in
    this process (same database, same connections: the fairest comparison)."""
    from bot.config import FeedSettings, FetchSettings
    from bot.feeds.parser_pool import ParserPool
    from bot.feeds.poller import FeedPoller
    from bot.fetch import Fetcher
    from bot.storage import Database
    from bot.storage.feed_records import NewFeed
    from bot.storage.feeds import FeedStore
    from bot.tuning import tune_gc

    on, off = metrics_switch()
    arms = {"off": off, "on": on, f"on x{AMPLIFY}": amplified(on)}
    db = Database(db_url)
    await db.upgrade()
    t0 = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)
    urls = [f"{base_url}/feed/{n}.xml" for n in range(feeds)]
    await FeedStore(db).subscribe(
        [NewFeed(u) for u in urls], channel_id=1, guild_id=1, created_by=None, now=t0
    )
    settings = FeedSettings(poll_concurrency=concurrency, min_interval_s=60)
    fetch = FetchSettings(allow_private_networks=True, per_host_concurrency=concurrency)
    result: dict[str, Any] = {"warm": {arm: [] for arm in arms}}
    async with ParserPool(workers) as pool, Fetcher(fetch) as fetcher:
        tune_gc()
        poller = FeedPoller(FeedStore(db), fetcher, settings, parser=pool)

        async def timed_pass(now: datetime) -> dict[str, float]:
            pids = list(pool.worker_pids)
            cpu = _self_cpu_s() + sum(_proc_cpu_s(p) for p in pids)
            stats = await poller.poll_due(now)
            return {"feeds": stats.claimed, "cpu_s": _self_cpu_s() + sum(_proc_cpu_s(p) for p in pids) - cpu}

        use(on if mode == "on" else off)
        result["cold"] = await timed_pass(t0)
        # off, on, on, off, ...: later passes are a little slower (the database grows), so
        # neither side always goes first.
        names = list(arms)
        order = [w for pair in range(warm) for w in (names if pair % 2 == 0 else names[::-1])]
        for n, which in enumerate(order):
            use(arms[which])
            result["warm"][which].append(await timed_pass(t0 + timedelta(days=2 * (n + 1))))
        use(on)
    await db.close()
    if mode == "on":
        result["scrape"] = await scrape_figures(db_url)
        result["direct"] = direct_cost_s(feeds)
    return result


def _run_child(mode: str, args: argparse.Namespace, base_url: str, tmp: str, n: int) -> dict[str, Any]:
    db_url = f"sqlite+aiosqlite:///{tmp}/bench-{mode}-{n}.db"
    command = [
        sys.executable, "-m", "bench.metrics_bench", "--child", mode, "--base-url", base_url,
        "--feeds", str(args.feeds), "--db-url", db_url, "--concurrency", str(args.concurrency),
        "--workers", str(args.workers), "--warm", str(args.warm),
    ]  # fmt: skip
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{mode} run failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def report(args: argparse.Namespace, runs: dict[str, list[dict[str, Any]]]) -> None:
    print(
        f"metrics_bench: {args.feeds} feeds of 20 items, SQLite; cold passes: {args.rounds} processes "
        f"off and on, alternating; warm passes: {args.warm} off/on pairs in each process"
    )
    print(
        f"{'pass':<6}{'CPU s off':>11}{'CPU s on':>10}{'on/off':>9}{'direct share':>14}{'µs/feed direct':>16}"
    )
    direct = runs["on"][0]["direct"]
    cold = (min(r["cold"]["cpu_s"] for r in runs["off"]), min(r["cold"]["cpu_s"] for r in runs["on"]))
    every = [r for mode in ("off", "on") for r in runs[mode]]
    # Warm: the median of many passes (one process's pass varies by 10% or more on a busy machine).
    warm = tuple(
        statistics.median(p["cpu_s"] for r in every for p in r["warm"][which]) for which in ("off", "on")
    )
    for name, (off, on) in (("cold", cold), ("warm", warm)):
        per_feed = on / args.feeds
        share = direct[name] / per_feed
        us = direct[name] * 1e6
        print(f"{name:<6}{off:>11.2f}{on:>10.2f}{on / off - 1:>+9.1%}{share:>14.2%}{us:>16.1f}")
    print(
        "(CPU s of the poller process and its parse workers: cold, the lowest of the processes; warm, the "
        "median of the passes; target: share < 2%)"
    )
    amp = f"on x{AMPLIFY}"
    high = statistics.median(p["cpu_s"] for r in every for p in r["warm"][amp])
    base = statistics.median(p["cpu_s"] for r in every for p in r["warm"]["on"])
    extra = (high - base) / (AMPLIFY - 1) / args.feeds
    print(
        f"warm, amplified: the helpers called {AMPLIFY}x cost (median {high:.2f} - median {base:.2f} CPU s) "
        f"/ {AMPLIFY - 1} = {extra * 1e6:.1f} µs per feed, {extra / (base / args.feeds):.2%} of the pass"
    )
    for which in runs["on"][0]["warm"]:
        passes = ", ".join(f"{p['cpu_s']:.2f}" for r in every for p in r["warm"][which])
        print(f"warm passes {which}: {passes} CPU s")
    for n, r in enumerate(runs["on"]):
        s = r["scrape"]
        print(
            f"scrape #{n + 1} with {args.feeds} feeds and {s['outbox_depth']:.0f} posts waiting: "
            f"uncached p50 {s['uncached']['p50']:.1f} ms, p95 {s['uncached']['p95']:.1f} ms, "
            f"max {s['uncached']['max']:.1f} ms; cached p50 {s['cached']['p50']:.1f} ms, "
            f"p95 {s['cached']['p95']:.1f} ms; {s['bytes']} bytes, {s['series']} newsdesk_ lines "
            "(target < 50 ms)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--feeds", type=int, default=10_000, help="feeds served and subscribed")
    parser.add_argument("--rounds", type=int, default=2, help="off/on pairs")
    parser.add_argument("--concurrency", type=int, default=64, help="requests in flight")
    parser.add_argument("--workers", type=int, default=2, help="parse processes of the poller")
    parser.add_argument("--warm", type=int, default=4, help="pairs of warm passes (off, on) per process")
    parser.add_argument("--child", choices=["on", "off"], help=argparse.SUPPRESS)
    parser.add_argument("--base-url", help=argparse.SUPPRESS)
    parser.add_argument("--db-url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        from bot.tuning import run_event_loop

        result = run_event_loop(
            child(
                args.child, args.base_url, args.feeds, args.db_url, args.concurrency, args.workers, args.warm
            )
        )
        print(json.dumps(result))
        return
    server = subprocess.Popen(
        [sys.executable, "-m", "tests.feedserver", "--feeds", str(args.feeds)],
        cwd=ROOT, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    runs: dict[str, list[dict[str, Any]]] = {"off": [], "on": []}
    try:
        assert server.stdout is not None
        base_url = server.stdout.readline().strip()
        with tempfile.TemporaryDirectory() as tmp:
            for n in range(args.rounds):
                for mode in ("off", "on"):
                    runs[mode].append(_run_child(mode, args, base_url, tmp, n))
    finally:
        server.terminate()
        server.wait(10)
    report(args, runs)


if __name__ == "__main__":
    main()
