"""The acknowledgement benchmark's database: feeds subscribed through the storage API, and their
next checks spread over one interval.

Imported by :mod:`bench.ack_bench` for the tree under test; run as a script (by its path, with
``PYTHONPATH`` at another tree) to seed a database with that tree's own ``bot`` package, for
``ack_bench --today REV``:

    PYTHONPATH=/tmp/old python3 bench/_ack_seed.py --db-url URL --base-url URL --feeds 3000 \\
        --targets GUILD:CHANNEL,GUILD:CHANNEL
"""

from __future__ import annotations

import argparse
import asyncio
import time
from datetime import UTC, datetime, timedelta

from sqlalchemy.engine import make_url


def _dsn(db_url: str) -> str:
    return make_url(db_url).set(drivername="postgresql").render_as_string(hide_password=False)


async def seed(db_url: str, base_url: str, feeds: int, targets: list[tuple[int, int]]) -> float:
    """Migrate, and subscribe the ``(guild, channel)`` targets to the feeds, round-robin, each feed
    seeded with the ETag the site answers 304 to (``"b<n>"``); returns seconds taken."""
    from bot.storage import Database
    from bot.storage.feed_records import FeedState, NewFeed
    from bot.storage.feeds import FeedStore

    started = time.perf_counter()
    now = datetime.now(UTC)
    later = now + timedelta(days=1)  # due only once a configuration is about to start
    db = Database(db_url)
    try:
        await db.upgrade()
        store = FeedStore(db)
        for t, (guild_id, channel_id) in enumerate(targets):
            batch = [
                NewFeed(
                    f"{base_url}/feed/{n}.xml",
                    state=FeedState(
                        title=f"Bench feed {n}",
                        site_url=f"https://site{n}.example/",
                        icon_url=None,
                        etag=f'"b{n}"',
                        last_modified=None,
                        body_hash=None,
                        update_hint_s=None,
                        next_check_at=later,
                    ),
                )
                for n in range(t, feeds, len(targets))
            ]
            await store.subscribe(batch, guild_id=guild_id, channel_id=channel_id, created_by=None, now=now)
    finally:
        await db.close()
    return time.perf_counter() - started


async def spread_schedule(db_url: str, start: datetime, interval_s: float) -> None:
    """Every feed due once in ``[start, start + interval_s)``, evenly, with no lease."""
    import asyncpg

    conn = await asyncpg.connect(_dsn(db_url))
    try:
        count = await conn.fetchval("SELECT count(*) FROM feeds")
        await conn.execute(
            "UPDATE feeds SET next_check_at = $1::timestamptz"
            " + ((id % $3)::float8 * $2::float8 / $3::float8) * interval '1 second',"
            " lease_owner = NULL, lease_until = NULL, failures = 0",
            start,
            float(interval_s),
            max(int(count), 1),
        )
    finally:
        await conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description="Seed the acknowledgement benchmark's database.")
    parser.add_argument("--db-url", required=True)
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--feeds", type=int, required=True)
    parser.add_argument("--targets", required=True, help="GUILD:CHANNEL,GUILD:CHANNEL...")
    args = parser.parse_args()
    targets = [(int(g), int(c)) for g, c in (pair.split(":") for pair in args.targets.split(","))]
    print(f"{asyncio.run(seed(args.db_url, args.base_url, args.feeds, targets)):.2f}")


if __name__ == "__main__":
    main()
