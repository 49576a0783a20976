"""The story assigner end to end: feed_items in the database -> stories written back.

    python3 bench/stories_assign_bench.py [--db sqlite|postgresql] [--seed 1] [--batch 500]

Loads the shared UCI headlines (one feed per publisher host, shuffled arrival order, no dates),
then measures with the bot's own code path (:class:`bot.stories.service.StoryAssigner`):

* throughput of ``assign_pending`` (read, group in the executor thread, write back), and the
  grouping share of it;
* B-cubed F1 of what was written to ``feed_items.story_id`` (merges renamed included), which must
  match the grouper's own score: the service must not lose quality;
* the cost of persistence: the saved state's size, the time to save it, and the time a restart
  takes to load it (and to replay items grouped after the last save);
* the event loop's worst lag while grouping runs (a ticker every 5 ms).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import select

from bot.storage import Database, StoryStore
from bot.storage.feed_tables import feed_items, feeds
from bot.stories import bcubed
from bot.stories.service import StoryAssigner

# The shared data sits beside the repository (../shared), wherever it is checked out.
DATA = Path(__file__).resolve().parents[1].parent / "shared/data/uci-news-aggregator-head/articles.jsonl"
PG_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
NOW = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)


async def load(db: Database, rows: list[dict]) -> dict[int, str]:
    """Insert the articles as feed items; returns feed_items.id -> gold story."""
    gold: dict[int, str] = {}
    feed_of: dict[str, int] = {}
    async with db.session() as conn:
        for row in rows:
            host = row.get("hostname") or urlsplit(row["url"]).hostname or "unknown"
            if host not in feed_of:
                feed_of[host] = (
                    await conn.execute(
                        feeds.insert()
                        .values(
                            url=f"https://{host}/feed",
                            title=row["publisher"],
                            site_url=f"https://{host}/",
                            next_check_at=NOW,
                            created_at=NOW,
                        )
                        .returning(feeds.c.id)
                    )
                ).scalar_one()
            item_id = (
                await conn.execute(
                    feed_items.insert()
                    .values(
                        feed_id=feed_of[host],
                        entry_key=row["url"],
                        title=row["title"],
                        url=row["url"],
                        first_seen_at=NOW,
                    )
                    .returning(feed_items.c.id)
                )
            ).scalar_one()
            gold[item_id] = row["story"]
    return gold


async def lag_probe(stop: asyncio.Event, worst: list[float]) -> None:
    loop = asyncio.get_running_loop()
    while not stop.is_set():
        before = loop.time()
        await asyncio.sleep(0.005)
        worst[0] = max(worst[0], loop.time() - before - 0.005)


def read_rows() -> list[dict]:
    if not DATA.exists():
        sys.exit(f"{DATA} is absent: nothing to measure")
    with DATA.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f]


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--batch", type=int, default=500)
    args = parser.parse_args()
    rows = read_rows()
    random.Random(args.seed).shuffle(rows)

    with tempfile.TemporaryDirectory() as tmp:
        if args.db == "sqlite":
            url = f"sqlite+aiosqlite:///{tmp}/bench.db"
        else:
            import asyncpg

            name = f"newsdesk_bench_{int(time.time())}"
            conn = await asyncpg.connect("postgresql://postgres@127.0.0.1:5432/test")
            await conn.execute(f'CREATE DATABASE "{name}"')
            await conn.close()
            url = PG_URL.replace("/test", f"/{name}")
        db = Database(url)
        try:
            await db.upgrade()
            gold = await load(db, rows)

            stop, worst = asyncio.Event(), [0.0]
            probe = asyncio.create_task(lag_probe(stop, worst))
            # Saving every batch here, to measure its cost; the default saves every 2000 items.
            assigner = StoryAssigner(
                StoryStore(db), clock=lambda: NOW, batch_size=args.batch, save_every_items=1
            )
            started = time.perf_counter()
            assigned = await assigner.assign_pending(NOW)
            elapsed = time.perf_counter() - started
            stop.set()
            await probe
            stats = assigner.stats
            await assigner.close()

            async with db.session() as conn:
                pred = dict((await conn.execute(select(feed_items.c.id, feed_items.c.story_id))).all())
            _, _, f1 = bcubed(pred, gold)

            # A restart: load the saved state (nothing to replay), then with a replay of everything.
            again = StoryAssigner(StoryStore(db), clock=lambda: NOW, batch_size=args.batch)
            t = time.perf_counter()
            await again.assign_pending(NOW)
            load_s = time.perf_counter() - t
            await again.close()
            async with db.session() as conn:
                from bot.storage.story_tables import grouper_state

                await conn.execute(grouper_state.delete())
            replay = StoryAssigner(StoryStore(db), clock=lambda: NOW, batch_size=args.batch)
            t = time.perf_counter()
            await replay.assign_pending(NOW)
            replay_s = time.perf_counter() - t
            replayed = replay.stats.replayed
            await replay.close()
            async with db.session() as conn:
                after = dict((await conn.execute(select(feed_items.c.id, feed_items.c.story_id))).all())
            unchanged = sum(after[i] == pred[i] for i in pred) / len(pred)
        finally:
            await db.close()
            if args.db == "postgresql":
                conn = await asyncpg.connect("postgresql://postgres@127.0.0.1:5432/test")
                await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                await conn.close()

    print(f"database            {args.db}, {assigned} items, batches of {args.batch}, seed {args.seed}")
    print(f"assign_pending      {elapsed:.2f} s = {assigned / elapsed:,.0f} items/s end to end")
    print(f"  grouping share    {stats.grouping_s:.2f} s (in the executor thread, state encoding included)")
    print(f"B-cubed F1 (stored) {f1:.3f}")
    print(
        f"state               {stats.last_state_bytes / 1024:.0f} KiB compressed, saved {stats.saves} times"
    )
    print(f"restart: load       {load_s * 1000:.0f} ms")
    print(
        f"restart: replay     {replay_s:.2f} s for {replayed} items; {unchanged:.1%} of story ids unchanged"
    )
    print(f"worst loop lag      {worst[0] * 1000:.1f} ms while assigning")


if __name__ == "__main__":
    asyncio.run(main())
