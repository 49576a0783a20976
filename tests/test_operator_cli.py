"""The operator's CLI (bot/ops/cli.py): feeds, outbox, stats and backup, on SQLite and PostgreSQL.

Most commands run in-process (the parser, then the command's handler, on a thread: each runs its
own event loop); some run as `python -m bot.cli` subprocesses, as an operator types them.
"""

from __future__ import annotations

import asyncio
import io
import json
from contextlib import redirect_stdout
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

from bot.cli import build_parser
from bot.config import Settings
from bot.delivery.message import MessageSpec
from bot.errors import NewsdeskError
from bot.storage import Database
from bot.storage.feed_records import NewFeed
from bot.storage.feed_tables import feeds, subscriptions
from bot.storage.feeds import FeedStore
from bot.storage.operator import DROPPED, OperatorStore, Selection
from bot.storage.outbox import OutboxMessage, OutboxStore
from bot.storage.outbox_tables import outbox
from tests.test_cli import assert_one_line_error, run_cli

G1, G2 = 1001, 1002


@dataclass
class Seeded:
    """Subscriptions: a (active), b (failing) in G1's channel 10; c (paused) in G2's channel 20.
    Posts: in G1, sent 1 h ago, sent 30 h ago, waiting 2 h (stuck), failed; in G2, waiting 1 min
    in channel 20, waiting 1 min in channel 30 whose delivery is held (stuck)."""

    a: int
    b: int
    c: int
    sent: int
    old_sent: int
    stuck: int
    failed: int
    fresh: int
    held: int
    #: When the rows were made: the commands compare with the real clock, so each test seeds
    #: relative to its own start (a module-level time went stale in a long suite run).
    now: datetime


async def seed(db: Database) -> Seeded:
    now = datetime.now(UTC).replace(microsecond=0)
    store = FeedStore(db)
    made = await store.subscribe(
        [NewFeed("https://a.example/feed"), NewFeed("https://b.example/feed")],
        guild_id=G1,
        channel_id=10,
        created_by=None,
        now=now,
    )
    (made_c,) = await store.subscribe(
        [NewFeed("https://c.example/feed")], guild_id=G2, channel_id=20, created_by=None, now=now
    )
    a, b, c = (answer.subscription.id for answer in [*made, made_c])  # type: ignore[union-attr]
    async with db.session() as conn:
        await conn.execute(
            update(feeds)
            .where(feeds.c.url == "https://b.example/feed")
            .values(failures=3, last_error="HTTP 500")
        )
        await conn.execute(update(subscriptions).where(subscriptions.c.id == c).values(status="paused"))
    posts = OutboxStore(db)
    rows = [
        ("sent", 10, G1, now - timedelta(hours=1)),
        ("old_sent", 10, G1, now - timedelta(hours=30)),
        ("stuck", 10, G1, now - timedelta(hours=2)),
        ("failed", 10, G1, now - timedelta(hours=3)),
        ("fresh", 20, G2, now - timedelta(minutes=1)),
        ("held", 30, G2, now - timedelta(minutes=1)),
    ]
    ids: dict[str, int] = {}
    for key, channel, guild, at in rows:
        message = OutboxMessage(channel, guild, "feed_item", f"test:{key}", MessageSpec(content=key))
        await posts.enqueue([message], now=at)
        row = await posts.get_by_dedup_key(f"test:{key}")
        assert row is not None
        ids[key] = row.id
    async with db.session() as conn:
        for key in ("sent", "old_sent"):
            at = now - (timedelta(hours=1) if key == "sent" else timedelta(hours=30))
            await conn.execute(
                update(outbox).where(outbox.c.id == ids[key]).values(status="sent", sent_at=at)
            )
        failed = update(outbox).where(outbox.c.id == ids["failed"])
        await conn.execute(failed.values(status="failed", attempts=1, last_error="403 Missing Access"))
    await posts.hold_channel(30, reason="access lost", now=now)
    return Seeded(a=a, b=b, c=c, now=now, **ids)


@pytest.fixture
async def seeded(db: Database) -> Seeded:
    return await seed(db)


@pytest.fixture
def config(db_url: str, tmp_path: Path) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(f'[database]\nurl = "{db_url}"\n')
    return path


async def newsdesk(config: Path, *args: str) -> str:
    """``newsdesk --config CONFIG ARGS`` in this process; its standard output."""

    def call() -> str:
        parsed = build_parser().parse_args(["--config", str(config), *args])
        from bot.config import load_settings

        settings: Settings = load_settings(config)
        out = io.StringIO()
        with redirect_stdout(out):
            assert parsed.handler(parsed, settings) == 0
        return out.getvalue()

    return await asyncio.to_thread(call)


async def test_feeds_list_by_server_channel_and_state(seeded: Seeded, config: Path) -> None:
    every = json.loads(await newsdesk(config, "feeds", "list", "--json"))
    assert [(s["id"], s["guild_id"], s["channel_id"], s["state"]) for s in every] == [
        (seeded.a, G1, 10, "active"),
        (seeded.b, G1, 10, "failing"),
        (seeded.c, G2, 20, "paused"),
    ]
    assert every[1]["last_error"] == "HTTP 500" and every[1]["failures"] == 3
    failing = json.loads(await newsdesk(config, "feeds", "list", "--state", "failing", "--json"))
    assert [s["id"] for s in failing] == [seeded.b]
    text = await newsdesk(config, "feeds", "list", "--guild", str(G2))
    assert "https://c.example/feed" in text and "paused" in text and "a.example" not in text
    assert text.rstrip().endswith("1 subscriptions")
    assert "no subscriptions match" in await newsdesk(config, "feeds", "list", "--channel", "999")


async def test_feeds_pause_resume_and_remove(seeded: Seeded, config: Path, db: Database) -> None:
    out = await newsdesk(config, "feeds", "pause", "--guild", str(G1), "--reason", "maintenance")
    assert out.strip() == "paused 2 of 2 subscriptions selected (the others were paused already)"
    paused = await OperatorStore(db).subscriptions(Selection(state="paused"))
    assert sorted(s.subscription.id for s in paused) == sorted([seeded.a, seeded.b, seeded.c])
    assert {s.paused_reason for s in paused if s.subscription.guild_id == G1} == {"maintenance"}
    # Resuming forgets the failures: the feed is due now.
    out = await newsdesk(config, "feeds", "resume", str(seeded.b))
    assert out.strip().startswith("resumed 1 of 1")
    (b,) = await OperatorStore(db).subscriptions(Selection(ids=[seeded.b]))
    assert (b.subscription.status, b.feed.failures, b.feed.last_error) == ("active", 0, None)
    assert b.feed.next_check_at <= datetime.now(UTC)
    # Nothing named: refused, nothing changed.
    with pytest.raises(NewsdeskError, match="name them by id"):
        await newsdesk(config, "feeds", "pause")
    with pytest.raises(NewsdeskError, match="add --yes"):
        await newsdesk(config, "feeds", "remove", "--channel", "20")
    assert (
        await newsdesk(config, "feeds", "remove", "--channel", "20", "--yes")
    ).strip() == "removed 1 subscriptions"
    left = await OperatorStore(db).subscriptions(Selection())
    assert sorted(s.subscription.id for s in left) == sorted([seeded.a, seeded.b])
    assert await FeedStore(db).find_subscription("https://c.example/feed", 20) is None


async def test_outbox_list_retry_and_drop(seeded: Seeded, config: Path, db: Database) -> None:
    default = json.loads(await newsdesk(config, "outbox", "list", "--json"))
    assert [p["id"] for p in default] == [seeded.stuck, seeded.failed, seeded.fresh, seeded.held]
    stuck = json.loads(await newsdesk(config, "outbox", "list", "--state", "stuck", "--json"))
    assert [(p["id"], p["held"]) for p in stuck] == [(seeded.stuck, False), (seeded.held, True)]
    assert "no posts match" in await newsdesk(config, "outbox", "list", "--kind", "digest")
    assert (await newsdesk(config, "outbox", "drop", "--kind", "digest")).startswith("dropped 0 posts")
    text = await newsdesk(config, "outbox", "list", "--state", "failed")
    assert "403 Missing Access" in text and text.rstrip().endswith("1 posts")
    # A failed post and a held channel's post, sent again: the hold goes.
    out = await newsdesk(config, "outbox", "retry", str(seeded.failed), str(seeded.held))
    assert out.strip() == "2 posts to send again now; 1 held channels released"
    posts = OutboxStore(db)
    for row_id in (seeded.failed, seeded.held):
        row = await posts.get(row_id)
        assert row is not None and row.status == "pending" and row.lease_owner is None
        assert row.next_attempt_at <= datetime.now(UTC)
    assert await posts.held_channels() == []
    failed = await posts.get(seeded.failed)
    assert failed is not None and failed.attempts == 1  # kept: a lost answer is looked for first
    # Drop what is stuck: cancelled, never sent; a sent post is not touched.
    out = await newsdesk(config, "outbox", "drop", "--state", "stuck")
    assert out.strip() == "dropped 1 posts (they will not be sent)"
    dropped = await posts.get(seeded.stuck)
    assert dropped is not None and (dropped.status, dropped.last_error) == ("cancelled", DROPPED)
    assert (await newsdesk(config, "outbox", "drop", str(seeded.sent))).startswith("dropped 0 posts")
    sent = await posts.get(seeded.sent)
    assert sent is not None and sent.status == "sent"


async def test_stats_per_server(seeded: Seeded, config: Path) -> None:
    figures = json.loads(await newsdesk(config, "stats", "--json"))
    one, two = figures["servers"]
    assert one["guild_id"] == G1 and two["guild_id"] == G2
    assert one["feeds"] == {"active": 1, "failing": 1, "paused": 0}
    assert (one["posts_24h"], one["failed_24h"], one["waiting"]) == (1, 1, 1)
    assert one["oldest_waiting_at"] == (seeded.now - timedelta(hours=2)).isoformat()
    assert 7200 <= one["oldest_waiting_age_s"] < 7200 + 120
    assert two["feeds"] == {"active": 0, "failing": 0, "paused": 1}
    assert (two["posts_24h"], two["waiting"]) == (0, 2)
    assert figures["totals"] == {
        "active": 1,
        "failing": 1,
        "paused": 1,
        "posts_24h": 1,
        "failed_24h": 1,
        "waiting": 3,
    }
    text = await newsdesk(config, "stats", "--guild", str(G2))
    assert (
        str(G2) in text and str(G1) not in text and "1 servers; feeds 0 active, 0 failing, 1 paused" in text
    )


async def test_the_commands_as_an_operator_types_them(seeded: Seeded, db_url: str, tmp_path: Path) -> None:
    env = {"NEWSDESK_DATABASE__URL": db_url}
    stats = await asyncio.to_thread(run_cli, "stats", "--json", env=env, cwd=tmp_path)
    assert stats.returncode == 0, stats.stderr
    assert json.loads(stats.stdout)["totals"]["waiting"] == 3
    pause = await asyncio.to_thread(run_cli, "feeds", "pause", str(seeded.a), env=env, cwd=tmp_path)
    assert pause.returncode == 0 and pause.stdout.startswith("paused 1 of 1"), pause.stderr
    listed = await asyncio.to_thread(run_cli, "outbox", "list", "--kind", "feed_item", env=env, cwd=tmp_path)
    assert listed.returncode == 0 and listed.stdout.rstrip().endswith("4 posts"), listed.stdout
    refused = await asyncio.to_thread(run_cli, "outbox", "retry", env=env, cwd=tmp_path)
    assert_one_line_error(refused, "name them by id, or by --guild, --channel, --state, --kind")
