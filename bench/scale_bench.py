"""Scale-out: one worker process against two on one PostgreSQL database (issue 12, point 9).

N feeds (default 50,000) are served by a local feed site (:mod:`bench._scale_server`, in a
process of its own, counting the requests per feed) and subscribed in a fresh PostgreSQL
database (``scale_bench_<pid>``, dropped at the end; nothing else of the server is touched).
A *seeding* pass (two workers, every feed answers 200 and is parsed) stores each feed's ETag;
then the measured rounds alternate one worker and two (1, 2, 1, 2... with ``--rounds``). Before
each round every feed is made due again (its due time reset, leases cleared, the table
vacuumed), so every round polls the same set: one full pass, every feed answering 304 to its
ETag, the steady state of a bot whose feeds mostly did not change.

A worker is a separate OS process (:mod:`bench._scale_worker`): the real
:class:`~bot.feeds.poller.FeedPoller` over :class:`~bot.storage.feeds.FeedStore` and
:class:`~bot.fetch.Fetcher`, under its own lease owner (instance id). Two are started at once
and set up before the seeding pass, which both run, so that they are warm as running workers
are (connections, prepared statements, imports); a one-worker round tells the first to go, a
two-worker round tells both at once. Each claims batches of due feeds (``FOR UPDATE SKIP
LOCKED``) until none is due; the pass ends when the last worker finds nothing left.

Measured per round:

- feeds polled per second (feeds claimed / seconds from "go" to the last worker's end);
- feeds polled twice in the pass (requests per feed counted at the feed site; must be 0) and
  feeds left due after it (must be 0);
- CPU seconds per feed of the worker processes (user + sys of each worker over its pass, its
  parse processes included) and of the database's PostgreSQL backends (``/proc`` of the
  backends in ``pg_stat_activity``, sampled every 50 ms);
- database time per feed (``pg_stat_database.active_time``), transactions and tuples per feed;
- lock waits: ``pg_stat_activity`` samples with a backend waiting on a heavyweight lock
  (``wait_event_type = 'Lock'``) and the ``pg_stat_database.deadlocks`` delta.

Then the acceptance figures of the issue (two workers at least as fast as one, CPU per feed
within 10% of one process), and the arithmetic for 1,000,000 feeds at a 10-minute interval.

    python3 -m bench.scale_bench                    # 50,000 feeds: minutes
    python3 -m bench.scale_bench --feeds 10000 --rounds 3 --control
    python3 -m bench.scale_bench --feeds 10000 --idle-feeds 990000 --rounds 3   # a 1M-feed table

``--control`` adds a round of two workers on two databases holding half of the feeds each: the
same work with nothing shared, so what two workers cost beyond it is coordination and the rest
is the machine's. ``--idle-feeds K`` adds K subscribed feeds that are never due in a pass: the
claims then run in a large table of which few feeds are due, as in a bot with a million feeds
checked every ten minutes (a six-hundredth due each second).

The machine running this is shared (2 cores here: the feed site, PostgreSQL and the workers
all take from them), so two workers cannot double the rate: the question is whether
coordination through the database costs throughput or CPU. Only 127.0.0.1 is contacted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._scale_pg import (  # noqa: E402
    COUNTERS,
    Sampler,
    add_idle_feeds,
    admin_dsn,
    counters,
    create_database,
    deltas,
    split_copies,
)
from bench.poll_bench import _postgres_drop, _proc_cpu_s  # noqa: E402

#: 1,000,000 feeds checked every 10 minutes.
TARGET_FEEDS = 1_000_000
TARGET_INTERVAL_S = 600
#: Discord's global rate limit, for the whole bot (issue 12, point 7).
DISCORD_GLOBAL_PER_S = 50


# --- one round ---------------------------------------------------------------------------------


class Worker:
    """A worker process (:mod:`bench._scale_worker`) and its line protocol."""

    def __init__(self, process: asyncio.subprocess.Process, owner: str) -> None:
        self.process = process
        self.owner = owner

    @classmethod
    async def start(cls, owner: str, db_url: str, args: argparse.Namespace) -> Worker:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bench._scale_worker", "--db-url", db_url, "--owner", owner,
            "--concurrency", str(args.concurrency), "--parse-workers", str(args.parse_workers),
            cwd=ROOT, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        return cls(process, owner)

    async def line(self, timeout_s: float) -> str:
        assert self.process.stdout is not None
        raw = await asyncio.wait_for(self.process.stdout.readline(), timeout_s)
        if not raw:
            raise SystemExit(f"worker {self.owner} exited (code {await self.process.wait()})")
        return raw.decode().strip()

    def say(self, message: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(message.encode() + b"\n")

    async def close(self) -> None:
        if self.process.returncode is None:
            try:
                self.say("exit")
                await asyncio.wait_for(self.process.wait(), 30)
            except (TimeoutError, ConnectionError):
                self.process.kill()
                await self.process.wait()


async def _server_stats(base_url: str, *, reset: bool = False) -> dict[str, Any]:
    import aiohttp

    params = {"reset": "1"} if reset else {}
    async with aiohttp.ClientSession() as session, session.get(f"{base_url}/_stats", params=params) as answer:
        stats: dict[str, Any] = await answer.json()
        return stats


async def _make_all_due(db_url: str, now: datetime, polled: int) -> None:
    """Every polled feed (ids up to ``polled``) due at ``now`` with no lease; the table
    vacuumed so that rounds start alike. The idle feeds stay as they are.
    """
    import asyncpg

    conn = await asyncpg.connect(admin_dsn(db_url))
    try:
        await conn.execute(
            "UPDATE feeds SET next_check_at = $1, lease_owner = NULL, lease_until = NULL WHERE id <= $2",
            now - timedelta(seconds=1),
            polled,
        )
        await conn.execute("VACUUM (ANALYZE) feeds")
    finally:
        await conn.close()
    # This connection's statistics reach pg_stat_database when it ends: let them land before
    # the round's "before" reading.
    await asyncio.sleep(1.0)


async def _left_due(db_url: str, now: datetime) -> int:
    import asyncpg

    conn = await asyncpg.connect(admin_dsn(db_url))
    try:
        left: int = await conn.fetchval(
            "SELECT count(*) FROM feeds WHERE next_check_at <= $1 OR lease_until IS NOT NULL", now
        )
    finally:
        await conn.close()
    return left


async def start_workers(db_urls: list[str], args: argparse.Namespace, first: int = 1) -> list[Worker]:
    """A worker process on each of ``db_urls``, each under its own instance id, started at once,
    set up and waiting to go."""
    workers = [
        await Worker.start(f"scale-bench-{os.getpid()}-w{first + i}", url, args)
        for i, url in enumerate(db_urls)
    ]
    for w in workers:
        if (ready := await w.line(180)) != "ready":
            raise SystemExit(f"worker {w.owner} said {ready!r}")
    return workers


async def _go(
    procs: list[Worker], now: datetime, args: argparse.Namespace
) -> tuple[list[dict[str, Any]], float]:
    """Tell every worker to go at once; their figures and the seconds until the last is done."""
    started = time.perf_counter()
    for w in procs:
        w.say(f"go {now.isoformat()}")
    results = await asyncio.gather(*(w.line(args.timeout) for w in procs))
    return [json.loads(r) for r in results], time.perf_counter() - started


async def _flush(procs: list[Worker]) -> None:
    for w in procs:
        w.say("flush")
    for w in procs:
        if (flushed := await w.line(60)) != "flushed":
            raise SystemExit(f"worker {w.owner} said {flushed!r}")


async def _settled_counters(observer: Any, database: str) -> dict[str, float]:
    """The database's counters once the backends have reported their last transactions.

    An idle backend may hold its statistics back for 10 s; one that ends reports them at once
    (the workers close their connections after a pass: ``flush``). Read until two readings
    half a second apart agree.
    """
    last = await counters(observer, database)
    for _ in range(40):
        await asyncio.sleep(0.5)
        now = await counters(observer, database)
        if now == last:
            break
        last = now
    return last


async def run_round(
    label: str, procs: list[Worker], db_url: str, base_url: str, args: argparse.Namespace
) -> dict[str, Any]:
    """One pass by ``procs`` (started before: a running worker's connections, statement caches
    and imports are warm), every polled feed due at its start."""
    import asyncpg

    database = db_url.rsplit("/", 1)[1].split("?")[0]
    now = datetime.now(UTC)
    await _make_all_due(db_url, now, args.polled_max_id)
    # The observer watches from the `postgres` database: its own queries are not counted in
    # the benchmark database's statistics.
    observer = await asyncpg.connect(admin_dsn(db_url, "postgres"))
    try:
        await _server_stats(base_url, reset=True)
        sampler = Sampler(observer, database, interval_s=args.sample_ms / 1000)
        before = await _settled_counters(observer, database)
        await sampler.prime()
        stop = asyncio.Event()
        sampling = asyncio.create_task(sampler.run(stop))
        site_cpu = _proc_cpu_s(args.site_pid)
        results, seconds = await _go(procs, now, args)
        site_cpu = _proc_cpu_s(args.site_pid) - site_cpu
        stop.set()
        await sampling
        await _flush(procs)
        after = await _settled_counters(observer, database)
    finally:
        await observer.close()
    served = await _server_stats(base_url)
    left = await _left_due(db_url, now)
    figures = _figures(
        label, len(procs), seconds, results, deltas(before, after), sampler.summary(), served, left
    )
    figures["site_cpu_ms_per_feed"] = site_cpu / max(figures["feeds"], 1) * 1e3
    return figures


async def run_control_round(
    label: str, procs: list[Worker], part_urls: list[str], base_url: str, args: argparse.Namespace
) -> dict[str, Any]:
    """The control: two workers at once, each alone on its own database holding half of the
    feeds (:func:`bench._scale_pg.split_copies`), so nothing is shared and nothing coordinated.
    What two workers cost more than one here is the machine's doing (two processes on two busy
    cores), not the database's; the database figures are not taken."""
    now = datetime.now(UTC)
    for url in part_urls:
        await _make_all_due(url, now, args.polled_max_id)
    await _server_stats(base_url, reset=True)
    site_cpu = _proc_cpu_s(args.site_pid)
    results, seconds = await _go(procs, now, args)
    site_cpu = _proc_cpu_s(args.site_pid) - site_cpu
    await _flush(procs)
    served = await _server_stats(base_url)
    left = sum([await _left_due(url, now) for url in part_urls])
    sampled = {"backend_cpu_s": 0.0, "backends": 0, "samples": 0, "samples_waiting": 0,
               "backends_waiting": 0, "wait_events": {}, "lwlock_waits": 0}  # fmt: skip
    figures = _figures(
        label, len(procs), seconds, results, dict.fromkeys(COUNTERS, 0.0), sampled, served, left
    )
    figures["site_cpu_ms_per_feed"] = site_cpu / max(figures["feeds"], 1) * 1e3
    figures["control"] = True
    return figures


def _figures(
    label: str,
    workers: int,
    seconds: float,
    results: list[dict[str, Any]],
    db: dict[str, float],
    sampled: dict[str, Any],
    served: dict[str, Any],
    left: int,
) -> dict[str, Any]:
    feeds = sum(r["claimed"] for r in results)
    per = max(feeds, 1)
    cpu = sum(r["cpu_user_s"] + r["cpu_sys_s"] + r["cpu_parse_s"] for r in results)
    xacts = db["xact_commit"] + db["xact_rollback"]
    return {
        "label": label,
        "workers": workers,
        "feeds": feeds,
        "seconds": seconds,
        "feeds_per_s": feeds / seconds,
        "per_worker": [r["claimed"] for r in results],
        "worker_seconds": [r["seconds"] for r in results],
        "not_modified": sum(r["not_modified"] for r in results),
        "parsed": sum(r["parsed"] for r in results),
        "failed": sum(r["failed"] for r in results),
        "deferred": sum(r["deferred"] for r in results),
        "requests": served["requests"],
        "feeds_twice": served["feeds_twice"],
        "feeds_unpolled": feeds - served["feeds_polled"],
        "left_due": left,
        "worker_cpu_s": cpu,
        "worker_cpu_ms_per_feed": cpu / per * 1e3,
        "pg_cpu_s": sampled["backend_cpu_s"],
        "pg_cpu_ms_per_feed": sampled["backend_cpu_s"] / per * 1e3,
        "pg_backends": sampled["backends"],
        "db_active_ms_per_feed": db["active_time"] / per,
        "preempted_per_kfeed": sum(r.get("involuntary_switches", 0) for r in results) / per * 1e3,
        "waits_per_kfeed": sum(r.get("voluntary_switches", 0) for r in results) / per * 1e3,
        "statements_per_feed": sum(r.get("statements", 0) for r in results) / per,
        "xacts": xacts,
        "xacts_per_feed": xacts / per,
        "rollbacks": db["xact_rollback"],
        "tup_updated_per_feed": db["tup_updated"] / per,
        "tup_returned_per_feed": db["tup_returned"] / per,
        "tup_fetched_per_feed": db["tup_fetched"] / per,
        "tup_inserted_per_feed": db["tup_inserted"] / per,
        "blks_hit_per_feed": db["blks_hit"] / per,
        "blks_read": db["blks_read"],
        "deadlocks": db["deadlocks"],
        "lock_samples": sampled["samples"],
        "lock_samples_waiting": sampled["samples_waiting"],
        "lock_backends_waiting": sampled["backends_waiting"],
        "lock_wait_events": sampled["wait_events"],
        "lwlock_waits": sampled["lwlock_waits"],
    }


# --- seeding -----------------------------------------------------------------------------------


async def seed(db_url: str, base_url: str, feeds: int) -> float:
    """Create the schema and subscribe one channel to every feed; returns seconds taken."""
    from bot.storage import Database
    from bot.storage.feed_records import NewFeed
    from bot.storage.feeds import FeedStore

    started = time.perf_counter()
    db = Database(db_url)
    try:
        await db.upgrade()
        await FeedStore(db).subscribe(
            [NewFeed(f"{base_url}/feed/{n}.xml") for n in range(feeds)],
            channel_id=1,
            guild_id=1,
            created_by=None,
            now=datetime.now(UTC) - timedelta(minutes=1),
        )
    finally:
        await db.close()
    return time.perf_counter() - started


# --- report ------------------------------------------------------------------------------------

_ROWS: tuple[tuple[str, str, str], ...] = (
    # (label, key, format)
    ("feeds polled in the pass", "feeds", "{:.0f}"),
    ("pass seconds", "seconds", "{:.2f}"),
    ("feeds polled per second", "feeds_per_s", "{:.0f}"),
    ("feeds polled twice (must be 0)", "feeds_twice", "{:.0f}"),
    ("feeds left due after (must be 0)", "left_due", "{:.0f}"),
    ("requests at the feed site", "requests", "{:.0f}"),
    ("304 answers / failed checks", "not_modified", "{:.0f}"),
    ("worker CPU ms per feed", "worker_cpu_ms_per_feed", "{:.3f}"),
    ("worker voluntary context switches /1000 feeds", "waits_per_kfeed", "{:.0f}"),
    ("worker preempted (core busy) /1000 feeds", "preempted_per_kfeed", "{:.0f}"),
    ("PostgreSQL backend CPU ms per feed", "pg_cpu_ms_per_feed", "{:.3f}"),
    ("feed site CPU ms per feed (not the bot's)", "site_cpu_ms_per_feed", "{:.3f}"),
    ("database time ms per feed (active_time)", "db_active_ms_per_feed", "{:.3f}"),
    ("transactions per feed", "xacts_per_feed", "{:.4f}"),
    ("statements sent per feed (executemany: 1)", "statements_per_feed", "{:.4f}"),
    ("tuples updated per feed", "tup_updated_per_feed", "{:.2f}"),
    ("tuples returned per feed", "tup_returned_per_feed", "{:.1f}"),
    ("tuples fetched per feed", "tup_fetched_per_feed", "{:.1f}"),
    ("buffer hits per feed", "blks_hit_per_feed", "{:.1f}"),
    ("lock-wait samples (of samples)", "lock_samples_waiting", "{:.0f}"),
    ("deadlocks", "deadlocks", "{:.0f}"),
)


def _median(rounds: list[dict[str, Any]], key: str) -> float:
    return float(statistics.median(r[key] for r in rounds))


def _cell(rounds: list[dict[str, Any]], key: str, fmt: str) -> str:
    if not rounds:
        return "-"
    if key == "not_modified":
        return f"{_median(rounds, 'not_modified'):.0f} / {_median(rounds, 'failed'):.0f}"
    if key == "lock_samples_waiting":
        return f"{_median(rounds, key):.0f} ({_median(rounds, 'lock_samples'):.0f})"
    return fmt.format(_median(rounds, key))


def report(args: argparse.Namespace, seeded: dict[str, Any], rounds: list[dict[str, Any]]) -> None:
    one = [r for r in rounds if r["workers"] == 1]
    two = [r for r in rounds if r["workers"] == 2 and not r.get("control")]
    control = [r for r in rounds if r.get("control")]
    load = os.getloadavg()[0]
    idle = f" (and {args.idle_feeds} subscribed feeds not due)" if args.idle_feeds else ""
    print(
        f"scale_bench: {args.feeds} feeds{idle} on one host (127.0.0.1), PostgreSQL, {len(one)}+{len(two)} "
        f"measured rounds (1 and 2 workers alternating), poll concurrency {args.concurrency} per "
        f"worker, {os.cpu_count()} cores, load average {load:.1f} (a shared machine: figures are noisy)"
    )
    print(
        f"seeding pass (two workers, every feed 200 and parsed): {seeded['feeds']} feeds in "
        f"{seeded['seconds']:.1f} s, {seeded['feeds_per_s']:.0f} feeds/s, polled twice "
        f"{seeded['feeds_twice']}, failed {seeded['failed']}; per feed: worker CPU "
        f"{seeded['worker_cpu_ms_per_feed']:.3f} ms (parse processes included), PostgreSQL backend CPU "
        f"{seeded['pg_cpu_ms_per_feed']:.3f} ms, database time {seeded['db_active_ms_per_feed']:.3f} ms, "
        f"{seeded['tup_inserted_per_feed']:.1f} rows inserted"
    )
    print("\nrounds (each one full pass, every feed answering 304):")
    print(f"  {'round':<8}{'feeds':>7}{'s':>8}{'feeds/s':>9}{'per worker':>16}{'twice':>6}"
          f"{'CPU ms/f':>10}{'PG ms/f':>9}{'DB ms/f':>9}{'xact/f':>8}{'lockw':>6}")  # fmt: skip
    for r in rounds:
        shares = "+".join(str(n) for n in r["per_worker"])
        db = (
            f"{'-':>9}{'-':>9}{'-':>8}{'-':>6}  (control: 2 databases)"
            if r.get("control")
            else f"{r['pg_cpu_ms_per_feed']:>9.3f}{r['db_active_ms_per_feed']:>9.3f}"
            f"{r['xacts_per_feed']:>8.4f}{r['lock_samples_waiting']:>6}"
        )
        print(
            f"  {r['label']:<8}{r['feeds']:>7}{r['seconds']:>8.2f}{r['feeds_per_s']:>9.0f}{shares:>16}"
            f"{r['feeds_twice']:>6}{r['worker_cpu_ms_per_feed']:>10.3f}{db}"
        )
    median = " (medians)" if len(one) > 1 or len(two) > 1 else ""
    print(f"\nside by side{median}:")
    print(f"  {'':<46}{'1 worker':>14}{'2 workers':>14}")
    for name, key, fmt in _ROWS:
        print(f"  {name:<46}{_cell(one, key, fmt):>14}{_cell(two, key, fmt):>14}")
    events: dict[str, int] = {}
    for r in two:
        for event, count in r["lock_wait_events"].items():
            events[event] = events.get(event, 0) + count
    if events:
        print(f"  lock waits seen with two workers (wait_event: backend-samples): {events}")
    if not one or not two:
        return
    _acceptance(one, two)
    if control:
        _control(one, two, control)
    _arithmetic(one, two, args, seeded)


def _acceptance(one: list[dict[str, Any]], two: list[dict[str, Any]]) -> None:
    rate = _median(two, "feeds_per_s") / _median(one, "feeds_per_s")
    cpu = _median(two, "worker_cpu_ms_per_feed") / _median(one, "worker_cpu_ms_per_feed")
    total_one = _median(one, "worker_cpu_ms_per_feed") + _median(one, "pg_cpu_ms_per_feed")
    total_two = _median(two, "worker_cpu_ms_per_feed") + _median(two, "pg_cpu_ms_per_feed")
    twice = sum(r["feeds_twice"] for r in one + two)
    left = sum(r["left_due"] for r in one + two)
    # Each two-worker round beside the one-worker round just before it (the load of the shared
    # machine drifts: neighbours in time are the fairest pairs).
    pairs = list(zip(one, two, strict=False))
    faster = sum(1 for a, b in pairs if b["feeds_per_s"] >= a["feeds_per_s"])
    cheaper = sum(1 for a, b in pairs if b["worker_cpu_ms_per_feed"] <= 1.10 * a["worker_cpu_ms_per_feed"])
    print(
        "\nacceptance (issue 12): two workers at least as fast as one, CPU per feed within 10% of one process"
    )
    print(f"  rate, 2 workers / 1 worker:        {rate:.2f}x  (>= 1.00: {'PASS' if rate >= 1.0 else 'FAIL'})")
    print(f"  worker CPU per feed, 2 / 1:        {cpu:.2f}x  (<= 1.10: {'PASS' if cpu <= 1.10 else 'FAIL'})")
    print(f"  worker + PostgreSQL CPU per feed:  {total_two / total_one:.2f}x  (for the record)")
    print(f"  round pairs (1 then 2 workers):    2 at least as fast in {faster} of {len(pairs)}; "
          f"CPU within 10% in {cheaper} of {len(pairs)}")  # fmt: skip
    print(f"  feeds polled twice, all rounds:    {twice}  ({'PASS' if twice == 0 else 'FAIL'})")
    print(f"  feeds left due, all rounds:        {left}  ({'PASS' if left == 0 else 'FAIL'})")


def _control(one: list[dict[str, Any]], two: list[dict[str, Any]], control: list[dict[str, Any]]) -> None:
    rate = _median(control, "feeds_per_s")
    cpu = _median(control, "worker_cpu_ms_per_feed")
    cpu_one, cpu_two = _median(one, "worker_cpu_ms_per_feed"), _median(two, "worker_cpu_ms_per_feed")
    print(
        "control, two workers on two databases of half the feeds each (nothing shared, nothing to "
        f"coordinate): {rate:.0f} feeds/s ({rate / _median(one, 'feeds_per_s'):.2f}x one worker), worker "
        f"CPU {cpu:.3f} ms per feed ({cpu / cpu_one:.2f}x one worker; two on one database "
        f"{cpu_two / cpu:.2f}x this control): what two workers cost beyond the control is coordination, "
        "the rest is the machine"
    )


def _arithmetic(
    one: list[dict[str, Any]], two: list[dict[str, Any]], args: argparse.Namespace, seeded: dict[str, Any]
) -> None:
    need = TARGET_FEEDS / TARGET_INTERVAL_S
    rounds = one + two
    per_worker = _median(one, "feeds_per_s")  # one worker process, alone, on this machine
    worker_cpu = statistics.median(r["worker_cpu_ms_per_feed"] for r in rounds) / 1e3
    pg_cpu = statistics.median(r["pg_cpu_ms_per_feed"] for r in rounds) / 1e3
    db_time = statistics.median(r["db_active_ms_per_feed"] for r in rounds) / 1e3
    xacts = statistics.median(r["xacts_per_feed"] for r in rounds)
    updated = statistics.median(r["tup_updated_per_feed"] for r in rounds)
    workers_wall = math.ceil(need / per_worker)
    workers_cpu = need * worker_cpu
    pg_cores = max(db_time, pg_cpu) * need
    print(
        f"\nthe arithmetic for {TARGET_FEEDS:,} feeds at a {TARGET_INTERVAL_S // 60}-minute interval "
        f"({need:,.0f} polls/s), from the figures above (steady state: 304s):"
    )
    print(f"  workers at the measured rate of one worker ({per_worker:.0f} feeds/s on a shared 2-core "
          f"machine): {workers_wall}")  # fmt: skip
    print(f"  worker CPU: {worker_cpu * 1e3:.3f} ms per feed x {need:,.0f}/s = {workers_cpu:.1f} cores "
          f"(at 70% busy: {math.ceil(workers_cpu / 0.7)} one-core workers)")  # fmt: skip
    print(f"  PostgreSQL transactions: {xacts:.4f} per feed x {need:,.0f}/s = {xacts * need:,.0f}/s")
    print(f"  PostgreSQL database time: {db_time * 1e3:.3f} ms per feed x {need:,.0f}/s = "
          f"{db_time * need:.2f} s per second (~ busy backends); backend CPU {pg_cpu * 1e3:.3f} ms "
          f"per feed = {pg_cpu * need:.2f} cores")  # fmt: skip
    print(
        f"  rows updated: {updated:.2f} per feed = {updated * need:,.0f}/s "
        "(WAL and vacuum of the feeds table)"
    )
    cold_worker, cold_pg = seeded["worker_cpu_ms_per_feed"] / 1e3, seeded["pg_cpu_ms_per_feed"] / 1e3
    print(
        "  if every poll found new items (the seeding pass's work: 200, parsed, "
        f"{seeded['tup_inserted_per_feed']:.0f} rows inserted): workers {cold_worker * need:.1f} cores, "
        f"PostgreSQL backends {cold_pg * need:.2f} cores, {seeded['xacts_per_feed'] * need:,.0f} "
        "transactions/s (an upper bound: most polls are 304s)"
    )
    print(f"  which limit comes first, of the ones measured: {_first_limit(workers_cpu, pg_cores)}")
    table = args.feeds + args.idle_feeds
    if table < TARGET_FEEDS or not args.idle_feeds:
        # The claim's plan depends on the table: with every feed due, PostgreSQL scans it whole
        # per batch claimed; with a few due, it takes them from the due-time index.
        print(
            f"  (measured on a table of {table:,} feeds, {args.feeds / table:.0%} of them due at once; "
            f"a bot of {TARGET_FEEDS:,} feeds has about {1 / TARGET_INTERVAL_S:.2%} due each second: "
            f"--feeds 10000 --idle-feeds {TARGET_FEEDS - 10000} measures the claims in such a table)"
        )
    print(
        f"  and of the ones not measured here: Discord's global limit of {DISCORD_GLOBAL_PER_S} requests/s "
        f"binds the whole bot; at {need:,.0f} polls/s that is {DISCORD_GLOBAL_PER_S / need:.3f} posts per "
        "poll, so a bot whose feeds bring more new posts than that is held by Discord (or a shared "
        "REST proxy) before it needs more workers or a bigger database. Polls that find new items "
        "also insert items and outbox rows (the seeding pass's work, not this steady state)."
    )


def _first_limit(worker_cores: float, pg_cores: float) -> str:
    """Which of the two measured costs caps the bot first, in words."""
    if pg_cores >= worker_cores:
        return (
            f"PostgreSQL ({pg_cores:.1f} cores on one server, more than the workers' {worker_cores:.1f}, "
            "which scale out by adding processes)"
        )
    return (
        f"neither on a machine of a few cores: the workers need {worker_cores:.1f} cores and scale out "
        f"by adding processes; PostgreSQL needs {pg_cores:.1f} cores and is one server, so it is the "
        "limit that cannot be raised by adding processes"
    )


# --- main --------------------------------------------------------------------------------------


async def run(args: argparse.Namespace) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    server = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench._scale_server", "--feeds", str(args.feeds), "--items", str(args.items),
        cwd=ROOT, stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    db_url = ""
    part_urls: list[str] = []
    try:
        assert server.stdout is not None
        args.site_pid = server.pid
        base_url = (await asyncio.wait_for(server.stdout.readline(), 60)).decode().strip()
        db_url = await create_database(args.db_url)
        took = await seed(db_url, base_url, args.feeds)
        args.polled_max_id = await add_idle_feeds(db_url, base_url, args.idle_feeds, datetime.now(UTC))
        print(f"seeded {args.feeds} feeds in {took:.1f} s; seeding pass...", file=sys.stderr, flush=True)
        procs = await start_workers([db_url, db_url], args)
        controls: list[Worker] = []
        try:
            seeded = await run_round("seed", procs, db_url, base_url, args)
            if args.control:
                part_urls = await split_copies(db_url, 2)
                controls = await start_workers(part_urls, args, first=3)
            rounds: list[dict[str, Any]] = []
            for i in range(args.rounds):
                for workers in (1, 2):
                    label = f"{workers}w#{i + 1}"
                    print(f"round {label}...", file=sys.stderr, flush=True)
                    rounds.append(await run_round(label, procs[:workers], db_url, base_url, args))
                if controls:
                    label = f"2db#{i + 1}"
                    print(f"round {label}...", file=sys.stderr, flush=True)
                    rounds.append(await run_control_round(label, controls, part_urls, base_url, args))
        finally:
            for w in procs + controls:
                await w.close()
        return seeded, rounds
    finally:
        server.terminate()
        await server.wait()
        if db_url:
            for url in part_urls:
                await asyncio.to_thread(_postgres_drop, url)
            await asyncio.to_thread(_postgres_drop, db_url)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--feeds", type=int, default=50_000, help="feeds served and subscribed")
    parser.add_argument("--rounds", type=int, default=1, help="pairs of rounds (1 worker, 2 workers)")
    parser.add_argument("--concurrency", type=int, default=64, help="feeds in flight per worker")
    parser.add_argument("--parse-workers", type=int, default=os.cpu_count() or 1,
                        help="parse processes per worker (the bot's default: one per core)")  # fmt: skip
    parser.add_argument("--idle-feeds", type=int, default=0,
                        help="subscribed feeds never due in a pass (a large table)")  # fmt: skip
    parser.add_argument("--control", action="store_true",
                        help="control: 2 workers on 2 databases of half the feeds")  # fmt: skip
    parser.add_argument("--items", type=int, default=3, help="items per served feed")
    parser.add_argument("--sample-ms", type=float, default=50, help="pg_stat_activity sampling period")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds a pass may take")
    parser.add_argument("--db-url", default="postgresql+asyncpg://postgres@127.0.0.1:5432/test",
                        help="a database on the server (a fresh one is created beside it)")  # fmt: skip
    parser.add_argument("--json", type=Path, help="also write every figure to this file")
    args = parser.parse_args()
    if not args.db_url.startswith("postgresql"):
        raise SystemExit("scale_bench runs on PostgreSQL (several processes on one database)")
    seeded, rounds = asyncio.run(run(args))
    report(args, seeded, rounds)
    if args.json:
        args.json.write_text(json.dumps({"args": vars(args) | {"json": str(args.json)}, "seed": seeded,
                                         "rounds": rounds}, indent=1, default=str))  # fmt: skip


if __name__ == "__main__":
    main()
