"""One worker process of the scale benchmark: the real feed poller, driven over stdin/stdout.

    python3 -m bench._scale_worker --db-url postgresql+asyncpg://... --owner w1 --concurrency 64

It builds what a worker builds (:class:`bot.feeds.poller.FeedPoller` over
:class:`bot.storage.feeds.FeedStore`, :class:`bot.fetch.Fetcher` and the parse pool, on the event
loop and garbage-collector tuning of ``newsdesk run``) under its own lease owner, then speaks a
line protocol so that every worker of a round starts its pass at the same moment and its CPU is
measured over the pass alone (not over imports and start-up):

- it prints ``ready`` once set up (database connected, parse workers started);
- on ``go <ISO time>`` it runs one ``poll_due`` at that time: claims batches of due feeds until
  none is left, as every worker does in its pass; prints its figures as one JSON line;
- on ``flush`` it closes its database connections (their backends then report their
  statistics to ``pg_stat_database`` at once) and prints ``flushed``; it stays connected until
  then, so that the benchmark can read its backends' CPU before they go;
- on ``exit`` (or end of input) it closes and exits.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.poll_bench import _proc_cpu_s


def _self_cpu() -> tuple[float, float, int, int]:
    """User and system CPU seconds, voluntary and involuntary context switches of this process."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime, usage.ru_stime, usage.ru_nvcsw, usage.ru_nivcsw


async def _read_line() -> str:
    # stdin is read in a thread: the event loop keeps running (nothing blocks it).
    line: str = await asyncio.to_thread(sys.stdin.readline)
    return line.strip()


def _say(message: str) -> None:
    sys.stdout.write(message + "\n")
    sys.stdout.flush()


async def work(args: argparse.Namespace) -> None:
    from sqlalchemy import text

    from bot.config import FeedSettings, FetchSettings
    from bot.feeds.parser_pool import ParserPool
    from bot.feeds.poller import FeedPoller
    from bot.fetch import Fetcher
    from bot.storage import Database
    from bot.storage.feeds import FeedStore
    from bot.tuning import tune_gc

    db = Database(args.db_url)
    statements = _count_statements(db.engine.sync_engine)
    settings = FeedSettings(poll_concurrency=args.concurrency)
    # All the benchmark's feeds are on one host (127.0.0.1); a real bot's are spread over many,
    # each with its few requests in flight. The host limit is lifted to the poll concurrency.
    fetch = FetchSettings(allow_private_networks=True, per_host_concurrency=args.concurrency)
    pool = ParserPool(args.parse_workers)
    await pool.start()
    async with db.session() as conn:  # connected before the pass, as a running worker is
        await conn.execute(text("SELECT 1"))
    tune_gc()  # as `newsdesk run` does once started
    try:
        async with Fetcher(fetch) as fetcher:
            poller = FeedPoller(FeedStore(db), fetcher, settings, parser=pool, owner=args.owner)
            _say("ready")
            while True:
                line = await _read_line()
                if line == "flush":
                    # Close the pooled connections: a backend reports its statistics when it
                    # ends, while an idle one may hold them back for 10 s. Reconnected on use.
                    await db.engine.dispose()
                    _say("flushed")
                    continue
                if not line.startswith("go "):
                    break
                now = datetime.fromisoformat(line[3:])
                statements.update(calls=0, rows=0)
                figures = await _one_pass(poller, now, pool.worker_pids)
                _say(
                    json.dumps(figures | {"statements": statements["calls"], "bulk_rows": statements["rows"]})
                )
    finally:
        await pool.close()
        await db.close()


def _count_statements(engine: Any) -> dict[str, int]:
    """Statements the engine sends (an ``executemany`` counts once; its rows in ``rows``)."""
    from sqlalchemy import event

    counts = {"calls": 0, "rows": 0}

    @event.listens_for(engine, "before_cursor_execute")
    def _count(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        counts["calls"] += 1
        if many:
            counts["rows"] += len(parameters)

    return counts


async def _one_pass(poller: Any, now: datetime, parse_pids: frozenset[int]) -> dict[str, Any]:
    user, system, waits, preempted = _self_cpu()
    parse_cpu = sum(_proc_cpu_s(p) for p in parse_pids)
    started = time.perf_counter()
    stats = await poller.poll_due(now)
    elapsed = time.perf_counter() - started
    user_after, system_after, waits_after, preempted_after = _self_cpu()
    return {
        "owner": poller.owner,
        "seconds": elapsed,
        "claimed": stats.claimed,
        "not_modified": stats.not_modified,
        "unchanged": stats.unchanged,
        "parsed": stats.parsed,
        "failed": stats.failed,
        "deferred": stats.deferred,
        "new_items": stats.new_items,
        "posts": stats.posts,
        "cpu_user_s": user_after - user,
        "cpu_sys_s": system_after - system,
        # Involuntary switches: the worker was runnable but a core was busy (a loaded machine).
        "voluntary_switches": waits_after - waits,
        "involuntary_switches": preempted_after - preempted,
        "cpu_parse_s": sum(_proc_cpu_s(p) for p in parse_pids) - parse_cpu,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--db-url", required=True)
    parser.add_argument("--owner", required=True, help="this worker's lease owner (its instance id)")
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--parse-workers", type=int, default=1)
    args = parser.parse_args()
    from bot.tuning import run_event_loop

    run_event_loop(work(args))


if __name__ == "__main__":
    main()
