"""BulkInsert and BulkStatement: rows bound as tuples by the driver, on SQLite and PostgreSQL alike."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import bindparam, select, update

from bot.storage import Database
from bot.storage.bulk import BulkInsert, BulkStatement
from bot.storage.feed_tables import feed_items, feeds
from bot.storage.schema import UTCDateTime

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


async def _new_feeds(db: Database, count: int) -> list[int]:
    async with db.session() as conn:
        await conn.execute(
            feeds.insert(),
            [
                {"url": f"https://a.example/{n}", "next_check_at": NOW, "created_at": NOW, "failures": 3}
                for n in range(count)
            ],
        )
        return list((await conn.execute(select(feeds.c.id).order_by(feeds.c.id))).scalars())


async def test_statement_takes_rows_in_its_own_order_with_constants_kept(db: Database) -> None:
    # A parameter used twice (b_now), constants of the statement (failures, error, lease) and
    # rows given in an order unlike the SQL's: each row updates only its own feed.
    dt = UTCDateTime()
    statement = BulkStatement(
        update(feeds)
        .where(feeds.c.id == bindparam("b_id"))
        .values(
            etag=bindparam("b_etag"),
            next_check_at=bindparam("b_next", type_=dt),
            last_checked_at=bindparam("b_now", type_=dt),
            last_success_at=bindparam("b_now", type_=dt),
            failures=0,
            last_error=None,
            lease_until=None,
        ),
        ("b_id", "b_next", "b_now", "b_etag"),
    )
    first, second, untouched = await _new_feeds(db, 3)
    paris = timezone(timedelta(hours=1))
    later = NOW + timedelta(hours=1)
    async with db.session() as conn:
        await conn.execute(update(feeds).values(last_error="boom", lease_until=later))
        await statement.run(
            conn,
            [
                (first, later, NOW, '"v1"'),
                (second, later.astimezone(paris) + timedelta(minutes=5), NOW, None),
            ],
        )
        await statement.run(conn, [])
    async with db.session() as conn:
        rows = {r.id: r for r in await conn.execute(select(feeds))}
    assert rows[first].etag == '"v1"' and rows[second].etag is None
    assert rows[first].next_check_at == later and rows[first].next_check_at.tzinfo == UTC
    assert rows[second].next_check_at == later + timedelta(minutes=5)
    for fid in (first, second):
        row = rows[fid]
        assert (row.last_checked_at, row.last_success_at) == (NOW, NOW)
        assert (row.failures, row.last_error, row.lease_until) == (0, None, None)
    assert (rows[untouched].failures, rows[untouched].last_error) == (3, "boom")
    assert rows[untouched].lease_until == later


async def test_statement_refuses_naive_timestamps(db: Database) -> None:
    statement = BulkStatement(
        update(feeds)
        .where(feeds.c.id == bindparam("b_id"))
        .values(next_check_at=bindparam("b_next", type_=UTCDateTime())),
        ("b_id", "b_next"),
    )
    (fid,) = await _new_feeds(db, 1)
    with pytest.raises(ValueError, match="naive"):
        async with db.session() as conn:
            await statement.run(conn, [(fid, NOW.replace(tzinfo=None))])


def test_statement_names_must_match_its_parameters() -> None:
    from sqlalchemy.dialects.sqlite import aiosqlite

    statement = update(feeds).where(feeds.c.id == bindparam("b_id")).values(etag=bindparam("b_etag"))
    with pytest.raises(ValueError, match="b_etag"):
        BulkStatement(statement, ("b_id",))._compile(aiosqlite.dialect())
    with pytest.raises(ValueError, match="b_other"):
        BulkStatement(statement, ("b_id", "b_etag", "b_other"))._compile(aiosqlite.dialect())
