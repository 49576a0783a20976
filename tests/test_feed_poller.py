"""The feed poller against a real local feed server and real databases (SQLite, PostgreSQL).

Time is a controllable clock: polls happen when a test says so, never after a real interval.
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from bench._lag import LagTicker
from bot.config import FeedSettings, FetchSettings
from bot.delivery.message import MessageSpec
from bot.feeds.parser_pool import UNAVAILABLE_RETRY_S, ParserPool
from bot.feeds.poller import LEASE_S, FeedPoller
from bot.feeds.posts import feed_item_message
from bot.feeds.service import FeedService
from bot.feeds.types import Feed, FeedEntry
from bot.fetch import Fetcher
from bot.storage import Database
from bot.storage.feed_records import NewFeed
from bot.storage.feed_tables import feeds
from bot.storage.feeds import FeedStore
from bot.storage.outbox_tables import outbox
from bot.types import Article
from tests.feedserver import BASE_TIME, Clock, FeedServer, item
from tests.workerfns import workers_blocked

DATA = Path(__file__).parent / "data" / "feeds"
GUILD = 1000


def feed_settings(**overrides: Any) -> FeedSettings:
    values: dict[str, Any] = {
        "interval_s": 600,
        "min_interval_s": 1,
        "max_failures": 3,
        "poll_concurrency": 8,
    }
    return FeedSettings(**(values | overrides))


def fetch_settings(**overrides: Any) -> FetchSettings:
    values: dict[str, Any] = {"allow_private_networks": True, "timeout_s": 2.0, "max_bytes": 300_000}
    return FetchSettings(**(values | overrides))


@dataclass
class Rig:
    db: Database
    server: FeedServer
    fetcher: Fetcher
    clock: Clock
    settings: FeedSettings
    service: FeedService
    poller: FeedPoller

    def restart(self, **poller_options: Any) -> None:
        """New service and poller objects on the same database (a bot restart)."""
        self.service = FeedService(FeedStore(self.db), self.fetcher, self.settings, clock=self.clock)
        self.poller = FeedPoller(
            FeedStore(self.db), self.fetcher, self.settings, clock=self.clock, **poller_options
        )

    async def poll(self, after_s: float = 3600) -> Any:
        return await self.poller.poll_due(self.clock.advance(after_s))

    async def feed_row(self, url: str) -> Any:
        async with self.db.session() as conn:
            return (await conn.execute(select(feeds).where(feeds.c.url == url))).one()


@pytest.fixture
async def rig(db: Database) -> AsyncIterator[Rig]:
    settings = feed_settings()
    clock = Clock()
    async with FeedServer() as server, Fetcher(fetch_settings()) as fetcher:
        yield Rig(
            db=db,
            server=server,
            fetcher=fetcher,
            clock=clock,
            settings=settings,
            service=FeedService(FeedStore(db), fetcher, settings, clock=clock),
            poller=FeedPoller(FeedStore(db), fetcher, settings, clock=clock),
        )


async def posts(db: Database, channel_id: int | None = None, kind: str = "feed_item") -> list[Any]:
    """Outbox rows in insertion (= delivery) order."""
    query = select(outbox).where(outbox.c.kind == kind).order_by(outbox.c.id)
    if channel_id is not None:
        query = query.where(outbox.c.channel_id == channel_id)
    async with db.session() as conn:
        return list((await conn.execute(query)).all())


def titles(rows: list[Any]) -> list[str]:
    return [MessageSpec.from_dict(r.spec).embeds[0].title for r in rows]


# --- posting new items ---------------------------------------------------------------------


async def test_new_item_posted_once_to_each_channel_with_one_fetch(rig: Rig) -> None:
    feed = rig.server.add_feed("/news.xml", title="News", items=[item(2), item(1)])
    url = rig.server.url("/news.xml")
    for channel in (1, 2, 3):
        await rig.service.subscribe(GUILD, channel, url, user_id=7)
    assert rig.server.hits["/news.xml"] == 3  # one validating fetch per /feed add
    assert [len(await posts(rig.db, c)) for c in (1, 2, 3)] == [1, 1, 1]  # newest only, no flood

    feed.publish(item(3))
    stats = await rig.poll()
    assert rig.server.hits["/news.xml"] == 4  # one fetch for three channels
    assert (stats.claimed, stats.parsed, stats.new_items, stats.posts) == (1, 1, 1, 3)
    for channel in (1, 2, 3):
        assert titles(await posts(rig.db, channel)) == ["Story 2", "Story 3"]

    stats = await rig.poll()  # nothing new
    assert stats.posts == 0
    assert len(await posts(rig.db)) == 6


async def test_first_successful_check_posts_only_the_newest_and_remembers_the_rest(rig: Rig) -> None:
    # A feed never fetched successfully before (added without a validating fetch) must not
    # flood its channel with its whole history when the poller first reads it.
    feed = rig.server.add_feed("/backlog.xml", items=[item(n) for n in range(5, 0, -1)])
    store = FeedStore(rig.db)
    await store.subscribe(
        [NewFeed(rig.server.url("/backlog.xml"))],
        channel_id=1,
        guild_id=GUILD,
        created_by=None,
        now=rig.clock.now,
    )
    stats = await rig.poll()
    assert (stats.parsed, stats.posts) == (1, 1)
    assert titles(await posts(rig.db, 1)) == ["Story 5"]

    feed.publish(item(6))
    await rig.poll()
    assert titles(await posts(rig.db, 1)) == ["Story 5", "Story 6"]


async def test_not_modified_is_not_parsed(rig: Rig) -> None:
    rig.server.add_feed("/a.xml", items=[item(1)])
    await rig.service.subscribe(GUILD, 1, rig.server.url("/a.xml"), user_id=None)
    stats = await rig.poll()
    assert (stats.not_modified, stats.parsed) == (1, 0)
    assert rig.server.not_modified["/a.xml"] == 1
    assert rig.server.last_headers["/a.xml"]["If-None-Match"] == rig.server.feeds["/a.xml"].etag


async def test_same_body_with_new_etag_is_not_parsed(rig: Rig) -> None:
    feed = rig.server.add_feed("/a.xml", items=[item(1)])
    url = rig.server.url("/a.xml")
    await rig.service.subscribe(GUILD, 1, url, user_id=None)
    feed.new_etag()
    stats = await rig.poll()
    assert (stats.not_modified, stats.unchanged, stats.parsed) == (0, 1, 0)
    # The new validator is remembered: the next poll is a 304.
    assert (await rig.feed_row(url)).etag == feed.etag
    stats = await rig.poll()
    assert stats.not_modified == 1


async def test_changed_guid_for_the_same_link_is_not_reposted(rig: Rig) -> None:
    feed = rig.server.add_feed("/a.xml", items=[item(2), item(1)])
    await rig.service.subscribe(GUILD, 1, rig.server.url("/a.xml"), user_id=None)
    # The site migrated its CMS: every guid changed, the links did not.
    feed.set_items([item(3), item(2, guid="new-2"), item(1, guid="new-1")])
    stats = await rig.poll()
    assert stats.parsed == 1
    assert titles(await posts(rig.db, 1)) == ["Story 2", "Story 3"]
    # The new guids were learnt: the next change posts only what is new.
    feed.publish(item(4))
    await rig.poll()
    assert titles(await posts(rig.db, 1)) == ["Story 2", "Story 3", "Story 4"]


async def test_items_are_posted_oldest_first(rig: Rig) -> None:
    feed = rig.server.add_feed("/a.xml", items=[item(1)])
    await rig.service.subscribe(GUILD, 1, rig.server.url("/a.xml"), user_id=None)
    # Listed newest first, one without a date between its neighbours.
    feed.set_items([item(5), item(4, published=None), item(3), item(2), item(1)])
    await rig.poll()
    assert titles(await posts(rig.db, 1)) == ["Story 1", "Story 2", "Story 3", "Story 4", "Story 5"]


async def test_filters_apply_per_subscription(rig: Rig) -> None:
    feed = rig.server.add_feed("/a.xml", items=[item(1)])
    url = rig.server.url("/a.xml")
    await rig.service.subscribe(GUILD, 1, url, user_id=None)
    second = await rig.service.subscribe(GUILD, 2, url, user_id=None)
    await rig.service.set_filter(
        GUILD, second.subscription.id, include=["apple", "/^banana/i"], exclude=["rumour"]
    )
    feed.publish(
        item(2, title="Apple ships a phone"),
        item(3, title="Banana prices"),
        item(4, title="Apple rumour mill"),
        item(5, title="Cherry season", categories=("apple",)),
        item(6, title="Pineapple is not apple-less", summary="x"),
    )
    await rig.poll()
    assert titles(await posts(rig.db, 1)) == [
        "Story 1", "Apple ships a phone", "Banana prices", "Apple rumour mill", "Cherry season",
        "Pineapple is not apple-less",
    ]  # fmt: skip
    assert titles(await posts(rig.db, 2)) == [
        "Story 1", "Apple ships a phone", "Banana prices", "Cherry season", "Pineapple is not apple-less"
    ]  # fmt: skip


async def test_a_runaway_filter_regex_neither_matches_nor_stalls_the_event_loop(rig: Rig) -> None:
    # "(a|aa)+$" backtracks exponentially on "aaa...!": each entry costs the filter's whole
    # time limit (50 ms), twenty entries a second, which must not be spent on the event loop.
    feed = rig.server.add_feed("/a.xml", items=[item(1)])
    added = await rig.service.subscribe(GUILD, 1, rig.server.url("/a.xml"), user_id=None)
    await rig.service.set_filter(GUILD, added.subscription.id, include=["/(a|aa)+$/", "/^keep/i"], exclude=[])
    runaway = [item(n, title="a" * 40 + "!") for n in range(2, 22)]
    feed.publish(item(22, title="Keep this"), *runaway, item(23, title="Keep that"))
    gc.collect()  # a full collection of the suite's heap inside the poll would be a stall of its own
    async with LagTicker() as lags:
        await rig.poll()
    assert titles(await posts(rig.db, 1)) == ["Story 1", "Keep this", "Keep that"]
    # Matching on the loop stalls it for the whole second; a busy CI machine adds noise, not that.
    assert max(lags) < 0.5, f"the event loop stalled for {max(lags) * 1e3:.0f} ms"


async def test_a_hostile_filter_in_one_server_does_not_hold_up_other_servers_posts(rig: Rig) -> None:
    # Server A's filter backtracks forever on "aaa...!" titles: at 50 ms a pattern and an entry,
    # thirty entries and two patterns held every post of the pass up for 3 s, here and in B.
    shared = rig.server.add_feed("/shared.xml", items=[item(1)])
    other = rig.server.add_feed("/other.xml", items=[item(1)])
    hostile = await rig.service.subscribe(GUILD, 1, rig.server.url("/shared.xml"), user_id=None)
    await rig.service.set_filter(
        GUILD, hostile.subscription.id, include=["/(a|aa)+$/", "/(a|aa)+!$/"], exclude=[]
    )
    await rig.service.subscribe(GUILD + 1, 2, rig.server.url("/shared.xml"), user_id=None)
    b_other = await rig.service.subscribe(GUILD + 1, 3, rig.server.url("/other.xml"), user_id=None)
    await rig.service.set_filter(GUILD + 1, b_other.subscription.id, include=["/^story/i"], exclude=[])
    shared.publish(*(item(n, title="a" * 40 + "!") for n in range(2, 32)))  # MAX_POSTS_PER_POLL
    other.publish(item(2), item(3))
    loop = asyncio.get_running_loop()
    started = loop.time()
    polling = asyncio.create_task(rig.poll())
    stored_after = None
    while not polling.done():
        if len(await posts(rig.db, 2)) == 31 and len(await posts(rig.db, 3)) == 3:
            stored_after = loop.time() - started
            break
        await asyncio.sleep(0.01)
    await polling
    stored_after = stored_after if stored_after is not None else loop.time() - started
    assert stored_after < 1.5, f"server B's posts waited {stored_after * 1e3:.0f} ms for A's filter"
    assert titles(await posts(rig.db, 3)) == ["Story 1", "Story 2", "Story 3"]
    # A's own verdict: no post of what its filter could not judge in time, and a word on why.
    assert titles(await posts(rig.db, 1)) == ["Story 1"]
    notices = await posts(rig.db, 1, kind="notice")
    assert len(notices) == 1
    assert "ran out of time on 30 new items" in MessageSpec.from_dict(notices[0].spec).embeds[0].description
    # Once a day at most.
    shared.publish(item(40, title="a" * 40 + "!"))
    await rig.poll()
    assert len(await posts(rig.db, 1, kind="notice")) == 1


async def test_many_hostile_filters_in_one_server_share_one_budget(rig: Rig) -> None:
    # Sixteen hostile subscriptions in server A cost the batch one budget, not sixteen: server
    # B's posts of the same pass are not held up by them (each had its own 250 ms before).
    shared = rig.server.add_feed("/shared.xml", items=[item(1)])
    for channel in range(100, 116):
        hostile = await rig.service.subscribe(GUILD, channel, rig.server.url("/shared.xml"), user_id=None)
        await rig.service.set_filter(GUILD, hostile.subscription.id, include=["/(a|aa)+$/"], exclude=[])
    b_sub = await rig.service.subscribe(GUILD + 1, 2, rig.server.url("/shared.xml"), user_id=None)
    await rig.service.set_filter(GUILD + 1, b_sub.subscription.id, include=["/^a+!/"], exclude=[])
    shared.publish(*(item(n, title="a" * 40 + "!") for n in range(2, 12)))
    loop = asyncio.get_running_loop()
    started = loop.time()
    await rig.poll()
    took = loop.time() - started
    assert len(await posts(rig.db, 2)) == 11  # B's filter judged every item in time
    assert took < 1.2, f"the pass took {took * 1e3:.0f} ms with A's sixteen slow filters"


async def test_restart_does_not_repost(rig: Rig) -> None:
    feed = rig.server.add_feed("/a.xml", items=[item(2), item(1)], validators=False)
    url = rig.server.url("/a.xml")
    await rig.service.subscribe(GUILD, 1, url, user_id=None)
    feed.publish(item(3))
    await rig.poll()
    rig.restart()
    stats = await rig.poll()  # no validators: the body hash recognises it
    assert (stats.unchanged, stats.parsed, stats.posts) == (1, 0, 0)
    # Even with the hash forgotten, the items are remembered in the database.
    async with rig.db.session() as conn:
        await conn.execute(update(feeds).values(body_hash=None))
    rig.restart()
    feed.publish(item(4))
    stats = await rig.poll()
    assert (stats.parsed, stats.posts) == (1, 1)
    assert titles(await posts(rig.db, 1)) == ["Story 2", "Story 3", "Story 4"]


async def test_parsing_in_a_process_pool(rig: Rig) -> None:
    feed = rig.server.add_feed("/a.xml", items=[item(1)])
    await rig.service.subscribe(GUILD, 1, rig.server.url("/a.xml"), user_id=None)
    feed.publish(item(2, image_url="https://example.org/2.jpg"))
    async with ParserPool(1) as pool:
        rig.restart(parser=pool)
        stats = await rig.poll()
    assert stats.parsed == 1
    spec = MessageSpec.from_dict((await posts(rig.db, 1))[-1].spec)
    assert spec.embeds[0].image_url == "https://example.org/2.jpg"


async def test_without_parse_workers_a_changed_feed_waits_for_them_not_counted(rig: Rig) -> None:
    """Hostile input stays out of the bot's process: no parse in a thread when the workers are
    unavailable. The check fails with a clear error, the feed is checked again a minute later
    (never paused for it), and once a worker can start again the new item is posted.
    """
    feed = rig.server.add_feed("/a.xml", items=[item(1)])
    url = rig.server.url("/a.xml")
    await rig.service.subscribe(GUILD, 1, url, user_id=None)
    feed.publish(item(2))
    pool = ParserPool(1, warm_up="tests.workerfns:warm_up_unless_blocked", restart_delay_s=0.1)
    rig.restart(parser=pool)
    try:
        with workers_blocked():
            for attempt in range(rig.settings.max_failures + 1):
                # Due at the interval first, then a minute after each failed check.
                stats = await rig.poll(after_s=UNAVAILABLE_RETRY_S if attempt else 3600)
                assert (stats.claimed, stats.failed, stats.parsed, stats.paused) == (1, 1, 0, 0)
                row = await rig.feed_row(url)
                assert (row.status, row.failures) == ("active", 0)
                assert "feed reader was not available" in row.last_error
        stats = await rig.poll(after_s=UNAVAILABLE_RETRY_S)
        assert (stats.parsed, stats.posts) == (1, 1)
    finally:
        await pool.close()
    assert titles(await posts(rig.db, 1))[-1] == "Story 2"
    assert (await rig.feed_row(url)).last_error is None


# --- scheduling, failures, pausing ---------------------------------------------------------


async def test_next_check_follows_interval_and_hints(rig: Rig) -> None:
    rig.settings = feed_settings(max_hint_interval_s=86400)  # hints uncapped: how each one counts
    rig.restart()
    rig.server.add_feed("/plain.xml", items=[item(1)])
    rig.server.add_feed("/cached.xml", items=[item(1)], headers={"Cache-Control": "max-age=7200"})
    rig.server.add_feed("/ttl.xml", items=[item(1)], ttl_minutes=180)
    for path in ("/plain.xml", "/cached.xml", "/ttl.xml"):
        await rig.service.subscribe(GUILD, 1, rig.server.url(path), user_id=None)
    now = rig.clock.advance(20000)  # all due
    assert (await rig.poller.poll_due(now)).claimed == 3
    delays = {}
    for path in ("/plain.xml", "/cached.xml", "/ttl.xml"):
        delays[path] = ((await rig.feed_row(rig.server.url(path))).next_check_at - now).total_seconds()
    assert 600 <= delays["/plain.xml"] < 600 * 1.1 + 1
    assert 7200 <= delays["/cached.xml"] < 7200 * 1.1 + 1
    # <ttl> was read on subscribing, and still counts after a 304 (nothing parsed then).
    assert 180 * 60 <= delays["/ttl.xml"] < 180 * 60 * 1.1 + 1
    # Not due yet: nothing is fetched.
    hits = sum(rig.server.hits.values())
    stats = await rig.poller.poll_due(rig.clock.advance(300))
    assert stats.claimed == 0 and sum(rig.server.hits.values()) == hits


async def test_failures_back_off_then_pause_with_a_notice(rig: Rig) -> None:
    rig.server.add_feed("/a.xml", items=[item(1)], title="Flaky")
    url = rig.server.url("/a.xml")
    for channel in (1, 2):
        await rig.service.subscribe(GUILD, channel, url, user_id=None)
    rig.server.fail("/a.xml", 500)
    delays = []
    for _ in range(3):  # max_failures = 3
        row = await rig.feed_row(url)
        rig.clock.now = row.next_check_at
        stats = await rig.poller.poll_due(rig.clock.now)
        assert stats.failed == 1
        row = await rig.feed_row(url)
        delays.append((row.next_check_at - rig.clock.now).total_seconds())
        assert row.last_error == "The site answered 500 Internal Server Error."
    assert 1200 <= delays[0] < 2400 <= delays[1] < 4800 <= delays[2]  # 600 * 2**failures, plus jitter
    assert (row.status, row.failures) == ("paused", 3)
    assert "3 checks in a row failed" in row.paused_reason
    notices = await posts(rig.db, kind="notice")
    assert sorted(n.channel_id for n in notices) == [1, 2]
    assert "Flaky" in MessageSpec.from_dict(notices[0].spec).embeds[0].description
    # A paused feed is not polled; resuming checks it at once and forgets the failures.
    rig.server.heal("/a.xml")
    stats = await rig.poll(86400 * 3)
    assert stats.claimed == 0
    status = (await rig.service.list(GUILD, channel_id=1))[0]
    assert status.paused and status.paused_reason.startswith("3 checks")
    await rig.service.resume(GUILD, status.subscription.id)
    stats = await rig.poller.poll_due(rig.clock.now)
    assert stats.claimed == 1 and stats.failed == 0
    status = (await rig.service.list(GUILD, channel_id=1))[0]
    assert not status.paused and not status.failing and status.feed.last_error is None


async def test_gone_pauses_at_once(rig: Rig) -> None:
    rig.server.add_feed("/a.xml", items=[item(1)])
    url = rig.server.url("/a.xml")
    await rig.service.subscribe(GUILD, 1, url, user_id=None)
    rig.server.fail("/a.xml", 410)
    stats = await rig.poll()
    assert (stats.failed, stats.paused) == (1, 1)
    row = await rig.feed_row(url)
    assert (row.status, row.failures) == ("paused", 1)
    assert "410" in row.paused_reason
    assert len(await posts(rig.db, 1, kind="notice")) == 1


async def test_retry_after_on_a_successful_response_is_honoured(rig: Rig) -> None:
    rig.server.add_feed("/a.xml", items=[item(1)], headers={"Retry-After": "20000"})
    url = rig.server.url("/a.xml")
    await rig.service.subscribe(GUILD, 1, url, user_id=None)
    now = rig.clock.advance(3600)
    await rig.poller.poll_due(now)
    assert (await rig.feed_row(url)).next_check_at >= now + timedelta(seconds=20000)


@pytest.mark.parametrize("status", [429, 503])
async def test_retry_after_on_429_and_503_is_honoured(rig: Rig, status: int) -> None:
    rig.server.add_feed("/a.xml", items=[item(1)])
    url = rig.server.url("/a.xml")
    await rig.service.subscribe(GUILD, 1, url, user_id=None)
    rig.server.fail("/a.xml", status, **{"Retry-After": "20000"})
    now = rig.clock.advance(3600)
    await rig.poller.poll_due(now)
    assert (await rig.feed_row(url)).next_check_at >= now + timedelta(seconds=20000)


async def test_bad_feeds_get_clear_errors_and_the_others_still_post(db: Database) -> None:
    clock = Clock()
    settings = feed_settings(max_failures=10)
    async with (
        FeedServer() as main,
        # A 429 or 503 pauses its whole host: each on a host of its own.
        FeedServer("127.0.0.2") as refusing_429,
        FeedServer("127.0.0.3") as refusing_503,
        Fetcher(fetch_settings(timeout_s=1.0, max_bytes=100_000)) as fetcher,
    ):
        service = FeedService(FeedStore(db), fetcher, settings, clock=clock)

        def on(path: str) -> FeedServer:
            return {"/429.xml": refusing_429, "/503.xml": refusing_503}.get(path, main)

        paths = ["/good.xml", "/malformed.xml", "/bomb.xml", "/html.xml", "/page.html", "/huge.xml",
                 "/slow.xml", "/endless.xml", "/loop.xml", "/404.xml", "/410.xml", "/429.xml", "/500.xml",
                 "/503.xml"]  # fmt: skip
        for path in paths:
            on(path).add_feed(path, items=[item(1)])
            await service.subscribe(GUILD, 1, on(path).url(path), user_id=None)
        server = main
        server.feeds["/good.xml"].publish(item(2))
        server.serve_raw("/malformed.xml", b'<?xml version="1.0"?>\n<<<not xml at all>>> &&& ')
        server.serve_raw("/bomb.xml", (DATA / "billion_laughs.xml").read_bytes())
        server.serve_raw(
            "/html.xml", b"<!doctype html><html><body><p>Moved!</p></body></html>", "application/xml"
        )
        server.serve_raw("/page.html", b"<!doctype html><html><body><p>Hi</p></body></html>", "text/html")
        server.huge("/huge.xml", 500_000)
        server.slow("/slow.xml", 5)
        server.endless("/endless.xml")
        server.redirect_loop("/loop.xml")
        for status in (404, 410, 429, 500, 503):
            on(f"/{status}.xml").fail(f"/{status}.xml", status)

        poller = FeedPoller(FeedStore(db), fetcher, settings, clock=clock)
        stats = await poller.poll_due(clock.advance(3600))
        assert (stats.claimed, stats.failed, stats.posts) == (len(paths), len(paths) - 1, 1)
        errors = {}
        for path in paths:
            async with db.session() as conn:
                row = (await conn.execute(select(feeds).where(feeds.c.url == on(path).url(path)))).one()
            errors[path] = row.last_error
    assert errors["/good.xml"] is None
    expected = {
        "/malformed.xml": "not a feed we can read",
        "/bomb.xml": "entity bomb",
        "/html.xml": "web page, not a feed",
        "/page.html": "web page, not a feed",
        "/huge.xml": "larger than",
        "/slow.xml": "too long",
        "/endless.xml": "too long",
        "/loop.xml": "redirects",
        "/404.xml": "404 Not Found",
        "/410.xml": "410 Gone",
        "/429.xml": "429 Too Many Requests",
        "/500.xml": "500 Internal Server Error",
        "/503.xml": "503 Service Unavailable",
    }
    for path, text in expected.items():
        assert text in (errors[path] or ""), (path, errors[path])
    assert titles(await posts(db, 1))[-1] == "Story 2"


async def test_caching_hints_delay_a_feed_at_most_to_the_cap(rig: Rig) -> None:
    # WordPress's "sy:updatePeriod hourly" and a news site's <ttl>60</ttl> used to mean a check
    # an hour after the last one: a breaking story an hour late.
    rig.server.add_feed("/wp.xml", items=[item(1)], ttl_minutes=60, update_period="hourly",
                        headers={"Cache-Control": "max-age=3600"})  # fmt: skip
    url = rig.server.url("/wp.xml")
    await rig.service.subscribe(GUILD, 1, url, user_id=None)
    row = await rig.feed_row(url)
    assert row.update_hint_s == 3600  # both hints were read
    assert 900 <= (row.next_check_at - rig.clock.now).total_seconds() < 900 * 1.1 + 1
    rig.server.feeds["/wp.xml"].publish(item(2))
    # A changed body (hints parsed again), then a 304 (hints remembered): 15 minutes each time.
    for _ in range(2):
        now = rig.clock.advance(900 * 1.1 + 1)
        assert (await rig.poller.poll_due(now)).claimed == 1
        delay = ((await rig.feed_row(url)).next_check_at - now).total_seconds()
        assert 900 <= delay < 900 * 1.1 + 1
    assert rig.server.not_modified["/wp.xml"] == 1
    assert titles(await posts(rig.db, 1)) == ["Story 1", "Story 2"]


async def test_a_host_spaced_by_an_override_defers_rather_than_waits(db: Database) -> None:
    clock = Clock()
    settings = feed_settings()
    limits = {"127.0.0.1": {"concurrency": 1, "min_interval_s": 0.2}}
    async with FeedServer() as server, Fetcher(fetch_settings(host_limits=limits)) as fetcher:
        service = FeedService(FeedStore(db), fetcher, settings, clock=clock)
        for path in ("/a.xml", "/b.xml", "/c.xml"):
            server.add_feed(path, items=[item(1)])
            await service.subscribe(GUILD, 1, server.url(path), user_id=None)
        poller = FeedPoller(FeedStore(db), fetcher, settings, clock=clock)
        before = sum(server.hits.values())
        now = clock.advance(3600)
        stats = await poller.poll_due(now)
        assert (stats.claimed, stats.deferred) == (3, 2)
        assert sum(server.hits.values()) - before == 1
        # Each deferred feed got its own turn, 0.2 s apart: one is claimed and fetched at each.
        stats = await poller.poll_due(clock.advance(0.2))
        assert (stats.claimed, stats.deferred) == (1, 0)
        stats = await poller.poll_due(clock.advance(0.2))
        assert (stats.claimed, stats.deferred) == (1, 0)
        assert sum(server.hits.values()) - before == 3


async def test_300_feeds_on_one_host_are_checked_in_one_quick_pass(db: Database) -> None:
    # With one request a second per host (the old feeds.per_host_spacing_s) this pass checked
    # one feed and put the 299 others off over five minutes.
    clock = Clock()
    async with FeedServer() as server, Fetcher(fetch_settings()) as fetcher:
        urls = []
        for n in range(300):
            server.add_feed(f"/f/{n}.xml", items=[item(1)])
            urls.append(server.url(f"/f/{n}.xml"))
        await FeedStore(db).subscribe(
            [NewFeed(u) for u in urls], channel_id=1, guild_id=GUILD, created_by=None, now=clock.now
        )
        poller = FeedPoller(FeedStore(db), fetcher, feed_settings(poll_concurrency=32), clock=clock)
        stats = await poller.poll_due(clock.now)
        assert (stats.claimed, stats.deferred, stats.failed, stats.posts) == (300, 0, 0, 300)
        assert sum(server.hits.values()) == 300
        assert server.peak_in_flight <= 4  # fetch.per_host_concurrency, the default
        assert stats.elapsed_s < 20, f"one pass took {stats.elapsed_s:.1f} s"


async def test_the_old_per_host_spacing_setting_is_accepted_with_a_warning(
    db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    async with Fetcher(fetch_settings()) as fetcher:
        FeedPoller(FeedStore(db), fetcher, feed_settings(per_host_spacing_s=1.0))
    assert "feeds.per_host_spacing_s is deprecated and ignored" in caplog.text


@pytest.mark.parametrize("status", [429, 503])
async def test_a_host_asking_to_slow_down_is_paused_alone(db: Database, status: int) -> None:
    clock = Clock()
    # Host A's requests one at a time, so the 429 is seen before its other feeds are asked.
    limits = {"127.0.0.1": {"concurrency": 1}}
    async with (
        FeedServer("127.0.0.1") as a,
        FeedServer("127.0.0.2") as b,
        Fetcher(fetch_settings(host_limits=limits)) as fetcher,
    ):
        service = FeedService(FeedStore(db), fetcher, feed_settings(), clock=clock)
        for server in (a, b):
            for n in range(5):
                server.add_feed(f"/{n}.xml", items=[item(1)])
                await service.subscribe(GUILD, 1, server.url(f"/{n}.xml"), user_id=None)
            for n in range(5):
                server.feeds[f"/{n}.xml"].publish(item(2))
        for n in range(5):
            a.fail(f"/{n}.xml", status, **{"Retry-After": "120"})
        hits_a, hits_b = sum(a.hits.values()), sum(b.hits.values())
        poller = FeedPoller(FeedStore(db), fetcher, feed_settings(), clock=clock)
        now = clock.advance(3600)
        stats = await poller.poll_due(now)
        assert sum(a.hits.values()) - hits_a == 1  # asked once, then left alone
        assert sum(b.hits.values()) - hits_b == 5  # the other host: every feed checked
        assert (stats.claimed, stats.failed, stats.deferred, stats.posts) == (10, 1, 4, 5)
        async with db.session() as conn:
            rows = (await conn.execute(select(feeds).where(feeds.c.url.like(a.base_url + "%")))).all()
        assert all(r.next_check_at >= now + timedelta(seconds=119) for r in rows)
        assert all(r.failures == 0 for r in rows if r.last_error is None)  # deferred, not failed
        assert fetcher.limits.blocked_for("127.0.0.1") > 100
        assert fetcher.limits.blocked_for("127.0.0.2") == 0


@pytest.mark.parametrize(("limits", "peak"), [({}, 4), ({"127.0.0.1": {"concurrency": 2}}, 2)])
async def test_a_host_override_limits_its_concurrency(
    db: Database, limits: dict[str, Any], peak: int
) -> None:
    clock = Clock()
    async with FeedServer() as server, Fetcher(fetch_settings(host_limits=limits)) as fetcher:
        urls = []
        for n in range(12):
            server.add_feed(f"/f/{n}.xml", items=[item(1)])
            server.slow(f"/f/{n}.xml", 0.1)
            urls.append(server.url(f"/f/{n}.xml"))
        await FeedStore(db).subscribe(
            [NewFeed(u) for u in urls], channel_id=1, guild_id=GUILD, created_by=None, now=clock.now
        )
        poller = FeedPoller(FeedStore(db), fetcher, feed_settings(poll_concurrency=16), clock=clock)
        stats = await poller.poll_due(clock.now)
        assert (stats.claimed, stats.deferred, stats.posts) == (12, 0, 12)
        assert server.peak_in_flight == peak


async def run_until_posted(rig: Rig, *, channel_id: int, count: int) -> None:
    """Run the poll loop until ``channel_id`` has ``count`` posts queued, then stop it."""
    task = asyncio.create_task(rig.poller.run(idle_s=0.05))
    try:
        async with asyncio.timeout(10):
            while len(await posts(rig.db, channel_id)) < count:  # noqa: ASYNC110 - the database is what we watch
                await asyncio.sleep(0.02)
    finally:
        rig.poller.stop()
        await asyncio.wait_for(task, 5)


async def test_run_loop_posts_and_stops(rig: Rig) -> None:
    feed = rig.server.add_feed("/a.xml", items=[item(1)])
    await rig.service.subscribe(GUILD, 1, rig.server.url("/a.xml"), user_id=None)
    feed.publish(item(2))
    rig.clock.advance(3600)
    await run_until_posted(rig, channel_id=1, count=2)
    assert titles(await posts(rig.db, 1)) == ["Story 1", "Story 2"]


async def test_a_poller_killed_mid_pass_takes_its_feeds_back_when_restarted(rig: Rig) -> None:
    feed = rig.server.add_feed("/a.xml", items=[item(1)])
    await rig.service.subscribe(GUILD, 1, rig.server.url("/a.xml"), user_id=None)
    feed.publish(item(2))
    now = rig.clock.advance(3600)
    # The bot's pass claimed the feed, and the process was killed before the check was recorded.
    lease_until = now + timedelta(seconds=LEASE_S)
    assert len(await FeedStore(rig.db).claim_due(now, limit=10, lease_until=lease_until, owner="bot")) == 1
    rig.restart(owner="another-process")
    assert (await rig.poller.poll_due(now)).claimed == 0  # another poller leaves it alone
    rig.restart(owner="bot")  # the bot again: its old lease is its own, freed at once
    await run_until_posted(rig, channel_id=1, count=2)
    assert titles(await posts(rig.db, 1)) == ["Story 1", "Story 2"]


async def test_a_pass_that_stores_new_items_says_so(rig: Rig) -> None:
    told = asyncio.Event()
    rig.restart(on_new_items=told.set)
    feed = rig.server.add_feed("/a.xml", items=[item(1)])
    await rig.service.subscribe(GUILD, 1, rig.server.url("/a.xml"), user_id=None)
    rig.clock.advance(3600)
    task = asyncio.create_task(rig.poller.run(idle_s=0.05))
    try:
        await asyncio.sleep(0.3)  # passes with nothing new: not told
        assert not told.is_set()
        feed.publish(item(2))
        rig.clock.advance(3600)
        await asyncio.wait_for(told.wait(), 10)
    finally:
        rig.poller.stop()
        await asyncio.wait_for(task, 5)


# --- extract:true and the posts themselves -----------------------------------------------------


class PageExtractor:
    """Stands in for ArticleService: one page extracts, any other fails like a dead link."""

    def __init__(self, articles: dict[str, Article]) -> None:
        self.articles = articles
        self.asked: list[str] = []

    async def get(self, url: str) -> Article:
        self.asked.append(url)
        if url not in self.articles:
            raise RuntimeError("extraction failed")
        return self.articles[url]


def article(url: str, **values: Any) -> Article:
    base: dict[str, Any] = dict(
        url=url, canonical_url=url, title="T", author=None, published=None, site_name=None,
        description=None, image_url=None, language="en", text="text", word_count=1,
        reading_minutes=1, summary=None,
    )  # fmt: skip
    return Article(**(base | values))


async def test_extract_subscription_uses_the_article(rig: Rig) -> None:
    feed = rig.server.add_feed("/a.xml", items=[item(1)])
    url = rig.server.url("/a.xml")
    await rig.service.subscribe(GUILD, 1, url, user_id=None, extract=True)
    await rig.service.subscribe(GUILD, 2, url, user_id=None)
    story2, story3 = "https://example.org/story/2", "https://example.org/story/3"
    extractor = PageExtractor(
        {story2: article(story2, summary="The extracted summary.", image_url="https://example.org/lead.jpg")}
    )
    rig.restart(extractor=extractor)
    feed.publish(item(2), item(3, image_url="https://example.org/feed3.jpg"))
    await rig.poll()
    extracted = [MessageSpec.from_dict(r.spec).embeds[0] for r in (await posts(rig.db, 1))[1:]]
    assert (extracted[0].description, extracted[0].image_url) == (
        "The extracted summary.",
        "https://example.org/lead.jpg",
    )
    # Extraction failed: the feed's own summary and image.
    assert (extracted[1].description, extracted[1].image_url) == (
        "Summary of story 3.",
        "https://example.org/feed3.jpg",
    )
    plain = MessageSpec.from_dict((await posts(rig.db, 2))[1].spec).embeds[0]
    assert plain.description == "Summary of story 2."
    assert sorted(extractor.asked) == [story2, story3]  # once per link, not per subscription


def entry(**values: Any) -> FeedEntry:
    base: dict[str, Any] = dict(
        guid="g", link="https://news.example/a", title="A title", summary="A summary.",
        content_html=None, author="Ann", published=BASE_TIME, updated=BASE_TIME, categories=(),
        image_url=None, enclosure_url=None,
    )  # fmt: skip
    return FeedEntry(**(base | values))


def test_post_embed_has_title_source_time_summary_and_image() -> None:
    source = Feed(url="https://news.example/feed", title="News", site_url="https://news.example/",
                      icon_url="https://news.example/icon.png")  # fmt: skip
    spec = feed_item_message(entry(image_url="https://news.example/a.jpg"), source)
    spec.validate()
    (embed,) = spec.embeds
    assert (embed.title, embed.url) == ("A title", "https://news.example/a")
    assert (embed.author_name, embed.author_url, embed.author_icon_url) == (
        "News", "https://news.example/", "https://news.example/icon.png"
    )  # fmt: skip
    assert (embed.timestamp, embed.description, embed.image_url) == (
        BASE_TIME,
        "A summary.",
        "https://news.example/a.jpg",
    )
    assert spec.allowed_role_ids == ()


def test_post_summary_is_cut_at_a_word_boundary() -> None:
    words = " ".join(f"word{i}" for i in range(200))
    embed = feed_item_message(entry(summary=words), Feed(url="https://n.example/f")).embeds[0]
    assert embed.description is not None and len(embed.description) <= 350
    assert embed.description.endswith("…")
    assert embed.description[:-1].split(" ")[-1] in words.split(" ")  # no half word
    assert embed.author_name == "n.example"  # no feed title: the host


def test_post_text_never_pings() -> None:
    spec = feed_item_message(
        entry(
            title="@everyone look", summary="Hi <@123> and <@&456> and @here, see <#789>", author="@everyone"
        ),
        Feed(url="https://n.example/f", title="<@1> news"),
    )
    (embed,) = spec.embeds
    texts = " ".join(t or "" for t in (embed.title, embed.description, embed.author_name, embed.footer_text))
    for ping in ("@everyone", "@here", "<@123>", "<@&456>", "<@1>", "<#789>"):
        assert ping not in texts
    assert "everyone" in embed.title and "123" in (embed.description or "")
    assert spec.allowed_role_ids == ()


def test_post_refuses_non_http_links() -> None:
    embed = feed_item_message(
        entry(link="javascript:alert(1)", image_url="data:image/png;base64,xx"),
        Feed(url="https://n.example/f"),
    ).embeds[0]
    assert embed.url is None and embed.image_url is None


async def test_timestamps_stay_utc(rig: Rig) -> None:
    rig.server.add_feed("/a.xml", items=[item(1)])
    url = rig.server.url("/a.xml")
    await rig.service.subscribe(GUILD, 1, url, user_id=None)
    row = await rig.feed_row(url)
    assert isinstance(row.next_check_at, datetime) and row.next_check_at.utcoffset() == timedelta(0)
