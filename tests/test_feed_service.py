"""The feed service (what ``/feed`` commands call) against a local feed server and real databases."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from sqlalchemy import func, select

from bot.errors import (
    AlreadySubscribedError,
    FeedError,
    FetchError,
    FilterError,
    NotAFeedError,
    OpmlError,
    SubscriptionLimitError,
    SubscriptionNotFoundError,
)
from bot.feeds.opml import parse_opml
from bot.feeds.service import FeedService
from bot.fetch import Fetcher
from bot.storage import Database
from bot.storage.feed_tables import feed_items, feeds, subscriptions
from bot.storage.feeds import FeedStore
from bot.storage.outbox_tables import outbox
from tests.feedserver import Clock, FeedServer, item
from tests.test_feed_poller import feed_settings, fetch_settings

GUILD = 1000


@dataclass
class Env:
    db: Database
    server: FeedServer
    service: FeedService
    clock: Clock


@pytest.fixture
async def env(db: Database) -> AsyncIterator[Env]:
    clock = Clock()
    async with FeedServer() as server, Fetcher(fetch_settings()) as fetcher:
        settings = feed_settings(max_subscriptions_per_guild=5)
        yield Env(db, server, FeedService(FeedStore(db), fetcher, settings, clock=clock), clock)


async def count(db: Database, table: object) -> int:
    async with db.session() as conn:
        return (await conn.execute(select(func.count()).select_from(table))).scalar_one()  # type: ignore[arg-type]


# --- resolve ------------------------------------------------------------------------------


async def test_resolve_a_feed_gives_it_with_a_preview(env: Env) -> None:
    env.server.add_feed("/news.xml", title="Daily News", items=[item(2), item(3), item(1)])
    found = await env.service.resolve(env.server.url("/news.xml"))
    assert found.direct
    (candidate,) = found.candidates
    assert (candidate.url, candidate.title, candidate.entry_count) == (
        env.server.url("/news.xml"),
        "Daily News",
        3,
    )
    assert candidate.newest is not None and candidate.newest.title == "Story 3"  # by date, not position


async def test_resolve_a_page_with_several_feeds_lists_the_valid_ones(env: Env) -> None:
    env.server.add_feed("/rss.xml", title="All stories", items=[item(1)])
    env.server.add_feed("/atom.xml", title="Comments", items=[item(1)], format="atom")
    env.server.html_page(
        "/blog/",
        feed_links=[
            ("/rss.xml", "application/rss+xml"),
            ("atom.xml", "application/atom+xml"),  # relative to /blog/: a 404, dropped
            ("/atom.xml", "application/atom+xml"),
            ("/rss.xml", "application/rss+xml"),  # twice: listed once
        ],
    )
    found = await env.service.resolve(env.server.url("/blog/"))
    assert not found.direct
    assert [(c.url, c.title) for c in found.candidates] == [
        (env.server.url("/rss.xml"), "All stories"),
        (env.server.url("/atom.xml"), "Comments"),
    ]


async def test_resolve_a_page_without_links_probes_common_paths(env: Env) -> None:
    env.server.html_page("/", title="Plain site")
    env.server.add_feed("/index.xml", title="Found it", items=[item(1)])
    found = await env.service.resolve(env.server.url("/"))
    assert [c.title for c in found.candidates] == ["Found it"]


async def test_resolve_without_any_feed_is_a_clear_error(env: Env) -> None:
    env.server.html_page("/", title="No feeds here")
    with pytest.raises(FeedError, match=r"^No feed found at http://127\.0\.0\.1:\d+/"):
        await env.service.resolve(env.server.url("/"))


async def test_resolve_errors_say_what_is_wrong(env: Env) -> None:
    env.server.fail("/gone", 404)
    with pytest.raises(FetchError, match="404 Not Found"):
        await env.service.resolve(env.server.url("/gone"))
    env.server.serve_raw("/broken.xml", b'<?xml version="1.0"?>\n<<<not xml>>>')
    with pytest.raises(FeedError, match="is not a readable feed"):
        await env.service.resolve(env.server.url("/broken.xml"))


# --- subscribe ----------------------------------------------------------------------------------


async def test_first_add_posts_the_newest_and_remembers_the_rest(env: Env) -> None:
    env.server.add_feed("/news.xml", title="News", items=[item(3), item(2), item(1)])
    result = await env.service.subscribe(GUILD, 10, env.server.url("/news.xml"), user_id=42)
    assert (result.posted, result.new_feed, result.feed.title) == (1, True, "News")
    assert (result.subscription.channel_id, result.subscription.created_by) == (10, 42)
    assert await count(env.db, feed_items) == 3
    async with env.db.session() as conn:
        rows = (await conn.execute(select(outbox))).all()
    assert [(r.channel_id, r.guild_id, r.kind) for r in rows] == [(10, GUILD, "feed_item")]
    assert rows[0].spec["embeds"][0]["title"] == "Story 3"


async def test_second_channel_gets_its_own_preview_and_shares_the_feed(env: Env) -> None:
    env.server.add_feed("/news.xml", items=[item(2), item(1)])
    url = env.server.url("/news.xml")
    await env.service.subscribe(GUILD, 10, url, user_id=None)
    second = await env.service.subscribe(GUILD, 11, url, user_id=None)
    assert not second.new_feed and second.posted == 1
    assert (await count(env.db, feeds), await count(env.db, subscriptions), await count(env.db, outbox)) == (
        1,
        2,
        2,
    )


async def test_adding_the_same_feed_twice_is_a_clear_error(env: Env) -> None:
    env.server.add_feed("/news.xml", items=[item(1)])
    url = env.server.url("/news.xml")
    await env.service.subscribe(GUILD, 10, url, user_id=None)
    with pytest.raises(AlreadySubscribedError, match="already follows"):
        await env.service.subscribe(GUILD, 10, url, user_id=None)
    assert await count(env.db, outbox) == 1


async def test_redirected_feed_is_stored_under_its_final_url(env: Env) -> None:
    env.server.add_feed("/new.xml", items=[item(1)])
    env.server.redirect("/old.xml", "/new.xml")
    result = await env.service.subscribe(GUILD, 10, env.server.url("/old.xml"), user_id=None)
    assert result.feed.url == env.server.url("/new.xml")
    (status,) = await env.service.list(GUILD)
    assert status.feed.url == env.server.url("/new.xml")
    with pytest.raises(AlreadySubscribedError):
        await env.service.subscribe(GUILD, 10, env.server.url("/new.xml"), user_id=None)


async def test_subscription_limit_per_guild(env: Env) -> None:
    for n in range(5):
        env.server.add_feed(f"/{n}.xml", items=[item(1)])
        await env.service.subscribe(GUILD, 10, env.server.url(f"/{n}.xml"), user_id=None)
    env.server.add_feed("/6.xml", items=[item(1)])
    with pytest.raises(SubscriptionLimitError, match="5 feed subscriptions"):
        await env.service.subscribe(GUILD, 10, env.server.url("/6.xml"), user_id=None)
    # Another guild has its own allowance.
    await env.service.subscribe(GUILD + 1, 20, env.server.url("/6.xml"), user_id=None)


async def test_subscribing_to_a_page_or_a_broken_feed_fails_cleanly(env: Env) -> None:
    env.server.serve_raw("/page", b"<!doctype html><html><body>x</body></html>", "application/xml")
    with pytest.raises(NotAFeedError, match="web page, not a feed"):
        await env.service.subscribe(GUILD, 10, env.server.url("/page"), user_id=None)
    env.server.fail("/down.xml", 503)
    with pytest.raises(FetchError, match="503"):
        await env.service.subscribe(GUILD, 10, env.server.url("/down.xml"), user_id=None)
    assert (await count(env.db, feeds), await count(env.db, subscriptions)) == (0, 0)


# --- managing -------------------------------------------------------------------------------


async def test_list_filter_remove(env: Env) -> None:
    env.server.add_feed("/a.xml", title="Alpha", items=[item(1)])
    env.server.add_feed("/b.xml", title="Beta", items=[item(1)])
    a = await env.service.subscribe(GUILD, 10, env.server.url("/a.xml"), user_id=None)
    await env.service.subscribe(GUILD, 11, env.server.url("/b.xml"), user_id=None)
    listed = await env.service.list(GUILD)
    assert [(s.feed.title, s.subscription.channel_id) for s in listed] == [("Alpha", 10), ("Beta", 11)]
    assert listed[0].feed.last_success_at == env.clock.now and listed[0].feed.next_check_at > env.clock.now
    assert not listed[0].paused and not listed[0].failing
    assert [s.feed.title for s in await env.service.list(GUILD, channel_id=11)] == ["Beta"]
    assert await env.service.list(GUILD + 1) == []

    status = await env.service.set_filter(
        GUILD, a.subscription.id, include=[" rust ", ""], exclude=["/beta\\d/i"]
    )
    assert (status.subscription.include, status.subscription.exclude) == (("rust",), ("/beta\\d/i",))
    with pytest.raises(FilterError, match="Invalid regex"):
        await env.service.set_filter(GUILD, a.subscription.id, include=["/(unclosed/"], exclude=[])
    with pytest.raises(SubscriptionNotFoundError):
        await env.service.set_filter(GUILD + 1, a.subscription.id, include=["x"], exclude=[])

    assert not await env.service.remove(GUILD + 1, a.subscription.id)  # another guild's
    assert await env.service.remove(GUILD, a.subscription.id)
    assert not await env.service.remove(GUILD, a.subscription.id)
    # The feed nobody follows any more is gone, with its items.
    assert await count(env.db, feeds) == 1
    assert await count(env.db, feed_items) == 1


async def test_autocomplete_matches_title_or_url(env: Env) -> None:
    env.server.add_feed("/world.xml", title="World News", items=[item(1)])
    env.server.add_feed("/tech.xml", title="Tech 100% Daily", items=[item(1)])
    for path in ("/world.xml", "/tech.xml"):
        await env.service.subscribe(GUILD, 10, env.server.url(path), user_id=None)
    names = [name for name, _ in await env.service.autocomplete(GUILD, "world")]
    assert names == [f"World News · {env.server.url('/world.xml')}"]
    assert next(n for n, _ in await env.service.autocomplete(GUILD, "tech.xml")).startswith("Tech 100% Daily")
    assert next(n for n, _ in await env.service.autocomplete(GUILD, "100%")).startswith("Tech")
    assert await env.service.autocomplete(GUILD, "0% d") != []
    assert await env.service.autocomplete(GUILD, "_") == []  # LIKE wildcards are literal
    choices = await env.service.autocomplete(GUILD, "", limit=1)
    assert len(choices) == 1 and choices[0][1].isdigit()
    assert all(len(n) <= 100 for n, _ in await env.service.autocomplete(GUILD, ""))


async def test_pause_channel_and_resume(env: Env) -> None:
    env.server.add_feed("/a.xml", items=[item(1)])
    sub = await env.service.subscribe(GUILD, 10, env.server.url("/a.xml"), user_id=None)
    assert await env.service.pause_channel(10, "Missing Access") == 1
    (status,) = await env.service.list(GUILD)
    assert status.paused and status.paused_reason == "Missing Access"
    status = await env.service.resume(GUILD, sub.subscription.id)
    assert not status.paused and status.feed.next_check_at == env.clock.now
    with pytest.raises(SubscriptionNotFoundError):
        await env.service.resume(GUILD, 999_999)


# --- OPML --------------------------------------------------------------------------------------


async def test_opml_import_keeps_good_entries_and_reports_bad_ones(env: Env) -> None:
    env.server.add_feed("/a.xml", title="Alpha", items=[item(2), item(1)])
    env.server.add_feed("/b.xml", title="Beta", items=[item(1)])
    env.server.html_page("/page.html")
    await env.service.subscribe(GUILD, 10, env.server.url("/b.xml"), user_id=None)
    outbox_before = await count(env.db, outbox)
    opml = f"""<?xml version="1.0"?>
<opml version="2.0"><head><title>Mine</title></head><body>
  <outline text="Folder">
    <outline type="rss" text="Alpha" xmlUrl="{env.server.url("/a.xml")}"/>
    <outline type="rss" text="Beta" xmlUrl="{env.server.url("/b.xml")}"/>
  </outline>
  <outline type="rss" text="Missing" xmlUrl="{env.server.url("/missing.xml")}"/>
  <outline type="rss" text="A page" xmlUrl="{env.server.url("/page.html")}"/>
  <outline type="rss" text="Not a URL" xmlUrl="ftp://nope"/>
</body></opml>""".encode()
    seen: list[tuple[int, int]] = []

    async def progress(done: int, total: int) -> None:
        seen.append((done, total))

    report = await env.service.import_opml(GUILD, 10, opml, user_id=1, progress=progress)
    assert report.added == (env.server.url("/a.xml"),)
    assert report.skipped == (env.server.url("/b.xml"),)
    assert len(report.errors) == 3
    assert any("Not a URL" in e and "http" in e for e in report.errors)
    assert any("Missing" in e and "404" in e for e in report.errors)
    assert any("A page" in e and "web page" in e for e in report.errors)
    assert sorted(seen) == [(1, 4), (2, 4), (3, 4), (4, 4)]
    # Imports remember items but post nothing (100 feeds must not post 100 messages).
    assert await count(env.db, outbox) == outbox_before
    assert await count(env.db, feed_items) == 3

    exported = parse_opml(await env.service.export_opml(GUILD, channel_id=10))
    assert [(f.url, f.title) for f in exported.feeds] == [
        (env.server.url("/a.xml"), "Alpha"),
        (env.server.url("/b.xml"), "Beta"),
    ]
    # Round trip: importing the export into another channel adds the same feeds.
    report = await env.service.import_opml(GUILD, 11, await env.service.export_opml(GUILD), user_id=1)
    assert (len(report.added), report.skipped, report.errors) == (2, (), ())


async def test_opml_that_is_not_opml_is_refused(env: Env) -> None:
    with pytest.raises(OpmlError):
        await env.service.import_opml(GUILD, 10, b"<html><body>no</body></html>", user_id=1)


async def test_opml_import_of_a_thousand_feeds_adds_each_with_the_right_answer(db: Database) -> None:
    # 1,000 outlines: 3 the channel follows already, 5 answering 404, the rest good; the guild
    # has room for 987 more, so the last 5 good ones are refused for the limit, in file order.
    clock = Clock()
    async with FeedServer() as server, Fetcher(fetch_settings()) as fetcher:
        service = FeedService(
            FeedStore(db), fetcher, feed_settings(max_subscriptions_per_guild=990), clock=clock
        )
        urls = []
        for n in range(1000):
            server.add_feed(f"/f/{n}.xml", title=f"Feed {n}", items=[item(2 * n + 2), item(2 * n + 1)])
            urls.append(server.url(f"/f/{n}.xml"))
        followed = [urls[10], urls[500], urls[990]]
        for url in followed:
            await service.subscribe(GUILD, 10, url, user_id=None)
        missing = [urls[n] for n in (3, 4, 600, 601, 999)]
        for url in missing:
            server.fail(url.removeprefix(server.base_url), 404)
        outbox_before = await count(db, outbox)
        outlines = "".join(f'<outline type="rss" text="Feed {n}" xmlUrl="{u}"/>' for n, u in enumerate(urls))
        seen: list[tuple[int, int]] = []

        async def progress(done: int, total: int) -> None:
            seen.append((done, total))

        report = await service.import_opml(
            GUILD,
            10,
            f'<opml version="2.0"><body>{outlines}</body></opml>'.encode(),
            user_id=1,
            progress=progress,
        )
        good = [u for u in urls if u not in followed and u not in missing]
        assert report.added == tuple(good[:987])
        assert report.skipped == tuple(followed)
        assert len(report.errors) == 10
        # In file order: the 404s of 3, 4, 600 and 601, the 5 past the limit, the 404 of 999.
        not_found = [e for e in report.errors if "404" in e]
        assert [e.split(" (")[0] for e in not_found] == [f"Feed {n}" for n in (3, 4, 600, 601, 999)]
        limited = [e.split(" (")[0] for e in report.errors if "This server already has 990" in e]
        assert limited == [f"Feed {urls.index(u)}" for u in good[987:]]
        assert sorted(seen)[-1] == (1000, 1000) and len(seen) == 1000
        # Each added feed remembers its items (2 each) and posts nothing; none is paused or failing.
        assert await count(db, outbox) == outbox_before
        assert await count(db, feed_items) == 2 * (987 + 3)
        assert await service.store.count_subscriptions(GUILD) == 990
        statuses = await service.list(GUILD, 10)
        assert {s.feed.url for s in statuses} == set(good[:987]) | set(followed)
        assert not any(s.paused or s.failing or s.feed.last_success_at is None for s in statuses)
        assert {s.feed.title for s in statuses if s.feed.url == urls[1]} == {"Feed 1"}


async def test_a_feed_whose_charset_is_only_in_the_content_type_is_read_in_it(env: Env) -> None:
    # No XML declaration: the header's charset is the only word on the encoding.
    rss = (
        "<rss version='2.0'><channel><title>Новости дня</title><link>https://example.ru/</link>"
        "<item><title>Привет мир</title><link>https://example.ru/1</link></item></channel></rss>"
    )
    env.server.serve_raw("/cp1251.xml", rss.encode("cp1251"), "text/xml; charset=windows-1251")
    found = await env.service.resolve(env.server.url("/cp1251.xml"))
    (candidate,) = found.candidates
    assert candidate.title == "Новости дня"
    assert candidate.newest is not None and candidate.newest.title == "Привет мир"
