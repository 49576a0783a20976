"""The metric helpers (bot.ops.metrics), the scrape-time gauges (bot.ops.gauges) on SQLite and
PostgreSQL, and bounded label cardinality."""

from __future__ import annotations

import asyncio
import re
import time
from datetime import UTC, datetime, timedelta

import pytest
from aiohttp import web
from prometheus_client import REGISTRY
from prometheus_client.samples import Sample
from sqlalchemy import update

from bot.clock import utcnow
from bot.config import FeedSettings, FetchSettings
from bot.delivery.message import MessageSpec
from bot.errors import (
    ConnectError,
    FeedParseError,
    FetchTimeoutError,
    HTTPStatusError,
    NotAFeedError,
    StorageError,
    TooLargeError,
    WorkerCrashedError,
)
from bot.feeds.poller import FeedPoller
from bot.fetch import Fetcher
from bot.ops import metrics
from bot.ops.gauges import LoopLag, ScrapeGauges
from bot.storage import Database
from bot.storage.feed_records import NewFeed
from bot.storage.feeds import FeedStore
from bot.storage.outbox import OutboxMessage, OutboxStore
from bot.storage.outbox_tables import outbox
from bot.storage.stories import BatchWrite, StoryStore, StorySummary
from bot.workers import ProcessPool
from cogs.ratelimits import route_template
from tests.feedserver import bench_app


def value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def message(kind: str, key: str, channel_id: int = 10) -> OutboxMessage:
    return OutboxMessage(channel_id, 1, kind, key, MessageSpec(content=key))


def test_error_kinds_come_from_a_fixed_set() -> None:
    assert metrics.error_kind(HTTPStatusError("status", "https://a.example/f", 404)) == "http_4xx"
    assert metrics.error_kind(HTTPStatusError("status", "https://a.example/f", 503)) == "http_5xx"
    assert metrics.error_kind(HTTPStatusError("status", "https://a.example/f", 429)) == "http_429"
    assert metrics.error_kind(HTTPStatusError("odd", "https://a.example/f", 0)) == "http_other"
    assert metrics.error_kind(FetchTimeoutError("slow")) == "timeout"
    assert metrics.error_kind(ConnectError("refused")) == "connect"
    assert metrics.error_kind(TooLargeError("big")) == "too_large"
    assert metrics.error_kind(NotAFeedError("html")) == "not_a_feed"
    assert metrics.error_kind(FeedParseError("bad")) == "parse"
    assert metrics.error_kind(StorageError("down")) == "other"
    assert metrics.error_kind(RuntimeError("bug")) == "other"


def test_feed_check_helpers_count_by_outcome() -> None:
    before = {o: value("newsdesk_feed_checks_total", outcome=o) for o in ("200", "304", "timeout")}
    metrics.feed_checked("200")
    metrics.feed_checked("304")
    metrics.feed_checked("304")
    metrics.feed_failed(FetchTimeoutError("slow"))
    assert value("newsdesk_feed_checks_total", outcome="200") == before["200"] + 1
    assert value("newsdesk_feed_checks_total", outcome="304") == before["304"] + 2
    assert value("newsdesk_feed_checks_total", outcome="timeout") == before["timeout"] + 1


def test_poll_lag_and_ack_latency_are_observed_from_their_start() -> None:
    count = value("newsdesk_poll_lag_seconds_count")
    total = value("newsdesk_poll_lag_seconds_sum")
    metrics.poll_lag(utcnow() - timedelta(seconds=90))
    metrics.poll_lag(None)  # a feed without a due time (never claimed) is not a sample
    assert value("newsdesk_poll_lag_seconds_count") == count + 1
    assert 89 < value("newsdesk_poll_lag_seconds_sum") - total < 95
    # A snowflake made 1.5 s ago: Discord's epoch, milliseconds shifted left by 22 bits.
    created_ms = int((datetime.now(UTC).timestamp() - 1.5) * 1000) - 1_420_070_400_000
    acks, ack_sum = (
        value("newsdesk_interaction_ack_seconds_count"),
        value("newsdesk_interaction_ack_seconds_sum"),
    )
    metrics.interaction_acknowledged(created_ms << 22 | 12345)
    assert value("newsdesk_interaction_ack_seconds_count") == acks + 1
    assert 1.4 < value("newsdesk_interaction_ack_seconds_sum") - ack_sum < 2.5


def test_post_outcomes_by_kind_and_alerts_sent() -> None:
    sent = value("newsdesk_posts_total", kind="alert", outcome="sent")
    retried = value("newsdesk_posts_total", kind="feed", outcome="retried")
    alerts = value("newsdesk_alerts_sent_total")
    metrics.post_done("alert", "sent")
    metrics.post_done("feed_item", "retried")
    metrics.post_done("digest", "sent")
    assert value("newsdesk_posts_total", kind="alert", outcome="sent") == sent + 1
    assert value("newsdesk_posts_total", kind="feed", outcome="retried") == retried + 1
    assert value("newsdesk_alerts_sent_total") == alerts + 1  # not the digest
    with pytest.raises(KeyError):
        metrics.post_done("feed_item", "exploded")  # outcomes are a fixed set


def test_worker_restarts_by_pool_and_reason() -> None:
    before = value("newsdesk_worker_restarts_total", pool="parse", reason="timeout")
    metrics.worker_restarted("bot.feeds.jobs:parse_with_keys", "timeout")
    assert value("newsdesk_worker_restarts_total", pool="parse", reason="timeout") == before + 1


def test_429_routes_are_templated_and_capped() -> None:
    route = route_template("POST", "/channels/123456789012345678/messages")
    assert route == "POST /channels/{channel_id}/messages"
    before = value("newsdesk_discord_429_total", route=route, scope="user")
    for channel_id in range(1000, 1500):  # 500 channels: one label value
        metrics.discord_429(route_template("POST", f"/channels/{channel_id}/messages"), "user")
    assert value("newsdesk_discord_429_total", route=route, scope="user") == before + 500
    # Even a flood of routes nobody templated keeps at most MAX_ROUTES + "other".
    for n in range(metrics.MAX_ROUTES + 50):
        metrics.discord_429(f"GET /odd-{n}", "user")
    routes = {s.labels["route"] for s in _samples("newsdesk_discord_429")}
    assert len(routes) <= metrics.MAX_ROUTES + 1
    assert "other" in routes


def _samples(metric: str) -> list[Sample]:
    return [s for m in REGISTRY.collect() if m.name == metric for s in m.samples]


async def test_queued_posts_counted_by_kind_once_inserted(db: Database) -> None:
    store = OutboxStore(db)
    before = {
        k: value("newsdesk_posts_total", kind=k, outcome="queued") for k in ("feed", "digest", "notice")
    }
    now = utcnow()
    await store.enqueue(
        [message("feed_item", "a"), message("feed_item", "b"), message("digest", "c")], now=now
    )
    # A dedup key already queued inserts nothing and counts nothing.
    await store.enqueue([message("feed_item", "a"), message("notice", "d")], now=now)
    assert value("newsdesk_posts_total", kind="feed", outcome="queued") == before["feed"] + 2
    assert value("newsdesk_posts_total", kind="digest", outcome="queued") == before["digest"] + 1
    assert value("newsdesk_posts_total", kind="notice", outcome="queued") == before["notice"] + 1


async def test_scrape_gauges_read_the_outbox_and_the_pool(db: Database) -> None:
    store = OutboxStore(db)
    gauges = ScrapeGauges(db)
    await gauges.refresh()
    assert value("newsdesk_outbox_depth") == 0
    assert value("newsdesk_outbox_oldest_age_seconds") == 0
    now = utcnow()
    await store.enqueue([message("feed_item", f"k{n}", channel_id=n) for n in range(5)], now=now)
    async with db.session() as conn:  # the oldest waits for 2 minutes
        await conn.execute(
            update(outbox).where(outbox.c.dedup_key == "k0").values(created_at=now - timedelta(minutes=2))
        )
    await gauges.refresh()
    assert value("newsdesk_outbox_depth") == 0, "figures are reused for a few seconds"
    gauges._read_at = None  # as if REUSE_S had passed
    await gauges.refresh()
    assert value("newsdesk_outbox_depth") == 5
    assert 119 <= value("newsdesk_outbox_oldest_age_seconds") < 130
    assert value("newsdesk_db_pool_size") >= 1
    assert value("newsdesk_db_pool_checked_out") == 0  # nothing in use between queries
    await gauges.close()


async def test_loop_lag_sampler_sees_a_blocked_loop() -> None:
    lag = LoopLag(tick_s=0.01)
    count = value("newsdesk_event_loop_lag_seconds_count")
    lag.start()
    await asyncio.sleep(0.015)
    time.sleep(0.2)  # noqa: ASYNC251 - blocks the loop on purpose
    await asyncio.sleep(0.05)
    await lag.close()
    assert value("newsdesk_event_loop_lag_seconds_count") > count
    assert value("newsdesk_event_loop_lag_last_seconds") >= 0 and _max_lag_bucket_hit(0.1)


def _max_lag_bucket_hit(seconds: float) -> bool:
    # At least one sample above ``seconds``: the count above that bucket grew.
    total = value("newsdesk_event_loop_lag_seconds_count")
    below = value("newsdesk_event_loop_lag_seconds_bucket", le=str(seconds))
    return total > below


_ID = re.compile(r"\d{5,}")


def test_no_label_value_carries_an_id() -> None:
    """After everything above ran, no newsdesk_ series is labelled with a feed, channel or
    message id, and each metric has a bounded number of series."""
    for family in REGISTRY.collect():
        if not family.name.startswith("newsdesk_"):
            continue
        series = {tuple(sorted(s.labels.items())) for s in family.samples}
        assert len(series) <= 4 * (metrics.MAX_ROUTES + 1) + 60, family.name
        for labels in series:
            for key, label in labels:
                if key in ("le", "version"):
                    continue
                assert not _ID.search(label), (family.name, key, label)


async def test_a_story_is_formed_when_it_reaches_two_items(db: Database) -> None:
    store = StoryStore(db)
    now = utcnow()
    until = now + timedelta(minutes=5)
    assert await store.acquire_lease("metrics", "me", now=now, until=until)

    def story(story_id: str, items: int) -> StorySummary:
        return StorySummary(story_id, now, now, items, items, f"story {story_id}")

    async def write(*stories: StorySummary) -> float:
        before = value("newsdesk_stories_formed_total")
        batch = BatchWrite(assignments=(), merged={}, stories=stories)
        assert await store.write_batch(batch, lease="metrics", owner="me", now=now, lease_until=until)
        return value("newsdesk_stories_formed_total") - before

    assert await write(story("a", 1), story("b", 1)) == 0  # lone items are no story yet
    assert await write(story("a", 2), story("c", 3)) == 2  # a grew to two; c came with three
    assert await write(story("a", 3), story("c", 4), story("b", 1)) == 0  # already formed


@pytest.mark.allow_error_logs("died")
async def test_worker_restarts_are_counted_by_reason() -> None:
    def restarts(reason: str) -> float:
        return value("newsdesk_worker_restarts_total", pool="other", reason=reason)

    crashed, recycled = restarts("crashed"), restarts("recycled")
    async with ProcessPool("tests.workerfns:dispatch", 1, time_limit_s=5, max_calls_per_worker=2) as pool:
        with pytest.raises(WorkerCrashedError):
            await pool.run("die")
        assert restarts("crashed") == crashed + 1
        for n in range(4):  # two calls per worker: replaced twice more, as planned
            assert await pool.run("square", n) == n * n
    assert restarts("crashed") == crashed + 1
    assert restarts("recycled") >= recycled + 2


def _newsdesk_series() -> set[tuple[str, tuple[tuple[str, str], ...]]]:
    return {
        (s.name, tuple(sorted(s.labels.items())))
        for family in REGISTRY.collect()
        if family.name.startswith("newsdesk_")
        for s in family.samples
    }


async def test_more_feeds_make_no_more_series(db: Database) -> None:
    """Polls 20 feeds, then 300 more: the metrics gain counts, not series."""
    runner = web.AppRunner(bench_app(320), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    store = FeedStore(db)
    t0 = utcnow()
    fetch = FetchSettings(allow_private_networks=True, per_host_concurrency=16)
    try:
        async with Fetcher(fetch) as fetcher:
            poller = FeedPoller(store, fetcher, FeedSettings(poll_concurrency=16, min_interval_s=60))

            async def subscribe(numbers: range, channel_id: int) -> None:
                urls = [f"http://127.0.0.1:{port}/feed/{n}.xml" for n in numbers]
                await store.subscribe(
                    [NewFeed(u) for u in urls], channel_id=channel_id, guild_id=1, created_by=None, now=t0
                )

            await subscribe(range(20), 1)
            assert (await poller.poll_due(t0)).parsed == 20
            assert (await poller.poll_due(t0 + timedelta(days=2))).not_modified == 20
            series = _newsdesk_series()
            checks = value("newsdesk_feed_checks_total", outcome="200")
            for channel_id in range(2, 5):  # 300 more feeds in three more channels
                await subscribe(range(20 + 100 * (channel_id - 2), 120 + 100 * (channel_id - 2)), channel_id)
            stats = await poller.poll_due(t0 + timedelta(days=4))
            assert (stats.parsed, stats.not_modified) == (300, 20)
            assert value("newsdesk_feed_checks_total", outcome="200") == checks + 300
            assert _newsdesk_series() == series
    finally:
        await runner.cleanup()
