"""BulkInsert: rows bound as tuples by the driver, on SQLite and PostgreSQL alike."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from sqlalchemy import select

from bot.storage import Database
from bot.storage.bulk import BulkInsert
from bot.storage.feed_tables import feed_items, feeds

NOW = datetime(2026, 11, 28, 7, 0, tzinfo=UTC)


async def test_rows_go_in_with_conflicts_skipped_and_timestamps_converted(db: Database) -> None:
    async with db.session() as conn:
        feed_id = (
            await conn.execute(
                feeds.insert().values(url="https://a.example/feed", next_check_at=NOW, created_at=NOW)
            )
        ).inserted_primary_key[0]
    insert = BulkInsert(
        feed_items, ("feed_id", "entry_key", "title", "published_at", "first_seen_at"),
        skip_conflicts_on=("feed_id", "entry_key"),
    )  # fmt: skip
    paris = timezone(timedelta(hours=1))
    async with db.session() as conn:
        await insert.run(
            conn, [(feed_id, "k1", "One", NOW.astimezone(paris), NOW), (feed_id, "k2", None, None, NOW)]
        )
        await insert.run(conn, [(feed_id, "k1", "One again", None, NOW), (feed_id, "k3", "Three", None, NOW)])
        await insert.run(conn, [])
    async with db.session() as conn:
        rows = (await conn.execute(select(feed_items).order_by(feed_items.c.entry_key))).all()
    assert [(r.entry_key, r.title) for r in rows] == [("k1", "One"), ("k2", None), ("k3", "Three")]
    assert rows[0].published_at == NOW and rows[0].published_at.tzinfo == UTC
    assert rows[1].published_at is None and rows[1].first_seen_at == NOW
