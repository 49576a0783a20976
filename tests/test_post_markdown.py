"""Posted feed items in clean Discord Markdown (issue 13, point 6): the summary HTML survives the
parse worker, only the posted entries are converted (off the event loop), the embed shows the
Markdown, and the picture is the feed's, else the summary's first image, else the page's
og:image. Through the real poller, feed server and extraction on SQLite and PostgreSQL too.
"""

from __future__ import annotations

import html
import pickle
import threading
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select

from bot.config import ExtractSettings, FeedSettings, FetchSettings
from bot.delivery.message import MessageSpec
from bot.extract import ExtractorPool
from bot.feeds import posts as posts_module
from bot.feeds.jobs import parse_with_keys
from bot.feeds.poller import FeedPoller
from bot.feeds.posts import feed_item_message, ready_all, ready_to_post
from bot.feeds.service import FeedService
from bot.feeds.types import Feed, FeedEntry, ParsedFeed
from bot.fetch import Fetcher
from bot.storage import Database
from bot.storage.feeds import FeedStore
from bot.storage.outbox_tables import outbox
from bot.templates import make_template, render_post
from bot.types import Article
from tests.feedserver import Clock, FeedServer, item
from tests.markdown_view import block_markup, masked_link_targets, pings, shown

FEED_URL = "https://city.example/feed.xml"
FEED = Feed(FEED_URL, "City Post", "https://city.example/")
WHEN = datetime(2026, 5, 4, 12, 30, tzinfo=UTC)

SUMMARY = (
    '<p>The council <b>voted</b> on <a href="/budget">the budget</a>, see '
    '<a href="https://city.example/vote">https://city.example/vote</a>.</p>'
    '<img src="/img/first.jpg"><ul><li>Trams: <i>more</i></li><li>Buses</li></ul>'
    "<blockquote>We did it *twice*</blockquote>"
    '<p><img src="https://city.example/second.jpg">Bye.</p>'
)
SUMMARY_MARKDOWN = (
    "The council **voted** on [the budget](https://city.example/budget), see https://city.example/vote."
    "\n\n- Trams: *more*\n- Buses\n\n> We did it \\*twice\\*\n\nBye."
)
HOSTILE = (
    '<a href="https://evil.example/x">[click] **now** @everyone <@&5> _u_ `c`</a> and *star* '
    '<a href="javascript:alert(1)">run</a> <a href="https://x.example/">https://bank.example/</a>'
)


def rss(summary: str, **extra: str) -> bytes:
    media = f'<media:content url="{extra["media"]}" medium="image"/>' if "media" in extra else ""
    return (
        '<?xml version="1.0"?><rss version="2.0" xmlns:media="http://search.yahoo.com/mrss/"><channel>'
        "<title>City Post</title><link>https://city.example/</link>"
        f"<item><guid>a</guid><title>Vote</title><link>https://city.example/a</link>{media}"
        f"<description>{html.escape(summary)}</description></item></channel></rss>"
    ).encode()


def parsed_entry(body: bytes) -> FeedEntry:
    """The entry as a parse worker hands it back (parsed, keyed, pickled across)."""
    parsed: ParsedFeed = pickle.loads(pickle.dumps(parse_with_keys(body, FEED_URL, None)))[0]
    (entry,) = parsed.entries
    return entry


def entry(**values: Any) -> FeedEntry:
    base: dict[str, Any] = dict(
        guid="g", link="https://city.example/a", title="Vote", summary="The council voted.",
        content_html=None, author=None, published=WHEN, updated=WHEN, categories=(), image_url=None,
        enclosure_url=None,
    )  # fmt: skip
    return FeedEntry(**(base | values))


def article(**values: Any) -> Article:
    base: dict[str, Any] = dict(
        url="https://city.example/a", canonical_url=None, title="Vote", author=None, published=None,
        site_name=None, description=None, image_url="https://city.example/og.jpg", language="en",
        text="First *para*.\n\n\nSecond   para @everyone.", word_count=4, reading_minutes=1, summary="",
    )  # fmt: skip
    return Article(**(base | values))


# --- the summary HTML to the posted embed -------------------------------------------------


def test_summary_html_survives_the_parse_worker_and_only_posting_converts_it() -> None:
    parsed = parsed_entry(rss(SUMMARY))
    assert parsed.summary_html is not None and "<a href" in parsed.summary_html
    assert parsed.summary_markdown is None  # nothing converted while parsing
    assert parsed.summary is not None and "<" not in parsed.summary
    # Plain-text summaries carry no HTML copy.
    assert parsed_entry(rss("Just text &amp; more")).summary_html is None


def test_feed_summary_posts_as_clean_markdown_with_its_first_image() -> None:
    ready = ready_to_post(parsed_entry(rss(SUMMARY)), FEED_URL)
    (embed,) = feed_item_message(ready, FEED).embeds
    assert embed.description == SUMMARY_MARKDOWN
    assert masked_link_targets(embed.description) == ["https://city.example/budget"]
    assert [m.strip() for m in block_markup(embed.description)] == ["-", "-", ">"]
    assert "img" not in embed.description and "first.jpg" not in embed.description
    assert embed.image_url == "https://city.example/img/first.jpg"  # the first image, resolved
    feed_item_message(ready, FEED).validate()


def test_the_feeds_own_picture_wins_over_the_summarys() -> None:
    ready = ready_to_post(parsed_entry(rss(SUMMARY, media="https://cdn.example/m.jpg")), FEED_URL)
    assert feed_item_message(ready, FEED).embeds[0].image_url == "https://cdn.example/m.jpg"


def test_og_image_only_when_the_feed_has_no_picture() -> None:
    lead = article()
    without = feed_item_message(ready_to_post(entry(), FEED_URL), FEED, article=lead)
    assert without.embeds[0].image_url == "https://city.example/og.jpg"
    with_own = feed_item_message(entry(image_url="https://city.example/own.jpg"), FEED, article=lead)
    assert with_own.embeds[0].image_url == "https://city.example/own.jpg"
    # The {image} placeholder follows the same order.
    card = make_template("headline", {"image": "{image}"})
    assert render_post(card, entry(), FEED, lead).embeds[0].image_url == "https://city.example/og.jpg"
    assert render_post(card, entry(), FEED, None).embeds[0].image_url is None


def test_hostile_markdown_and_masked_link_text_are_escaped() -> None:
    ready = ready_to_post(entry(summary_html=HOSTILE), FEED_URL)
    text = feed_item_message(ready, FEED).embeds[0].description
    assert text is not None
    # One live link: the masked one, whose text shows as written.
    assert masked_link_targets(text) == ["https://evil.example/x"]
    assert "[\\[click\\] \\*\\*now\\*\\* @\u200beveryone" in text
    assert pings(text) == [] and "javascript" not in text
    # A link whose text is another address shows where it really goes.
    assert "bank.example" not in text and "https://x.example/" in text
    assert shown(text) == (
        "[[click] **now** @everyone <@&5> _u_ `c`](https://evil.example/x) and *star* run https://x.example/"
    )


def test_summary_placeholder_is_markdown_where_markdown_shows_and_plain_elsewhere() -> None:
    ready = ready_to_post(parsed_entry(rss(SUMMARY)), FEED_URL)
    template = make_template(
        "headline", {"content": "{summary}", "title": "{summary}", "footer": "{summary}"}
    )
    spec = render_post(template, ready, FEED)
    assert spec.content == SUMMARY_MARKDOWN
    (embed,) = spec.embeds
    # A title shows no links or lists: the summary's first line, escaped.
    assert embed.title is not None and "\n" not in embed.title and "](" not in embed.title
    assert embed.footer_text is not None and "**" not in embed.footer_text
    spec.validate()


def test_an_overflowing_part_is_never_cut_inside_a_link() -> None:
    links = " ".join(f'<a href="https://city.example/{n:04}">story number {n}</a>' for n in range(40))
    ready = ready_to_post(entry(summary_html=f"<p>{links}</p>"), FEED_URL)
    assert ready.summary_markdown is not None and len(ready.summary_markdown) > 600
    spec = render_post(make_template("compact", {"content": "{summary}\n" * 4}), ready, FEED)
    spec.validate()
    content = spec.content or ""
    assert 1900 < len(content) <= 2000 and content.endswith("…")
    # Every link left is whole: none shows as "[text…" or "[text](https://city.exa…".
    assert content.count("[") == content.count("](") == len(masked_link_targets(content))
    assert all(len(target) == len("https://city.example/0000") for target in masked_link_targets(content))


def test_article_text_keeps_its_paragraphs_escaped() -> None:
    template = make_template("headline", {"description": "{article_text}"})
    text = render_post(template, entry(), FEED, article()).embeds[0].description
    assert text == "First \\*para\\*.\n\nSecond para @\u200beveryone."


def test_an_entry_with_no_summary_html_posts_as_before() -> None:
    plain = entry(summary="A *plain* summary")
    assert ready_to_post(plain, FEED_URL) is plain
    assert feed_item_message(plain, FEED).embeds[0].description == "A \\*plain\\* summary"


def test_html_with_no_text_leaves_no_description() -> None:
    ready = ready_to_post(entry(summary=None, summary_html='<img src="/only.jpg">'), FEED_URL)
    (embed,) = feed_item_message(ready, FEED).embeds
    assert embed.description is None and embed.image_url == "https://city.example/only.jpg"


async def test_posted_entries_are_converted_in_a_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    threads: list[str] = []
    convert = posts_module.ready_to_post

    def recording(entry_: FeedEntry, base: str | None) -> FeedEntry:
        threads.append(threading.current_thread().name)
        return convert(entry_, base)

    html_entry, plain = entry(summary_html=SUMMARY), entry()
    monkeypatch.setattr(posts_module, "ready_to_post", recording)  # a spy: where it runs
    ready = await ready_all([(FEED_URL, [html_entry, plain])])
    assert await ready_all([(FEED_URL, [plain])]) == {}  # nothing to convert: no thread
    assert list(ready) == [id(html_entry)] and ready[id(html_entry)].summary_markdown == SUMMARY_MARKDOWN
    assert threads and threading.main_thread().name not in threads


# --- through the poller: real feed server, extraction and databases -------------------------


ARTICLE_PAGE = """<!doctype html><html><head><title>Vote</title>
<meta property="og:image" content="{og}"><meta property="og:title" content="Vote"></head>
<body><article><h1>Vote</h1>{paragraphs}</article></body></html>"""


@pytest.fixture
async def rig(db: Database) -> AsyncIterator[tuple[FeedService, FeedPoller, FeedServer, Clock]]:
    settings = FeedSettings(interval_s=600, min_interval_s=1, max_failures=3, poll_concurrency=4)
    clock = Clock()
    fetch = FetchSettings(allow_private_networks=True, timeout_s=5.0, max_bytes=300_000)
    async with (
        FeedServer() as server,
        Fetcher(fetch) as fetcher,
        ExtractorPool.from_settings(ExtractSettings(workers=1, timeout_s=30)) as pool,
    ):
        from bot.articles import ArticleService

        articles = ArticleService(fetcher, pool, None, ttl_s=0, clock=clock)
        service = FeedService(FeedStore(db), fetcher, settings, clock=clock)
        poller = FeedPoller(FeedStore(db), fetcher, settings, clock=clock, extractor=articles)
        yield service, poller, server, clock


async def outbox_specs(db: Database, channel_id: int) -> list[MessageSpec]:
    query = select(outbox.c.spec).where(outbox.c.channel_id == channel_id).order_by(outbox.c.id)
    async with db.session() as conn:
        return [MessageSpec.from_dict(row.spec) for row in await conn.execute(query)]


async def test_the_poller_posts_markdown_and_og_image_with_extract(
    db: Database, rig: tuple[FeedService, FeedPoller, FeedServer, Clock]
) -> None:
    service, poller, server, clock = rig
    page = server.url("/story/2")
    paragraphs = "".join(f"<p>Paragraph {n} of the story about the council vote.</p>" for n in range(8))
    server.serve_raw(
        "/story/2", ARTICLE_PAGE.format(og=server.url("/og.jpg"), paragraphs=paragraphs), "text/html"
    )
    feed = server.add_feed("/city.xml", title="City Post", items=[item(1)])
    url = server.url("/city.xml")
    await service.subscribe(1, 10, url, user_id=None)
    await service.subscribe(1, 20, url, user_id=None, extract=True)
    await service.set_template(1, (await service.list(1, 20))[0].subscription.id,
                               make_template("full", {"description": "{article_text}"}))  # fmt: skip
    feed.publish(item(2, link=page, summary=SUMMARY))
    await poller.poll_due(clock.advance(3600))

    plain = (await outbox_specs(db, 10))[-1].embeds[0]
    assert plain.description is not None and plain.description.startswith(
        "The council **voted** on [the budget](http"
    )
    assert "- Trams: *more*" in plain.description
    assert plain.image_url is not None and plain.image_url.endswith("/img/first.jpg")  # the feed's first
    extracted = (await outbox_specs(db, 20))[-1].embeds[0]
    # The article's text, its paragraphs kept.
    assert extracted.description is not None
    assert "Paragraph 0 of the story about the council vote.\n\nParagraph 1" in extracted.description
    assert extracted.image_url is not None and extracted.image_url.endswith("/img/first.jpg")

    # An item with no picture of its own: the page's og:image, for the extract subscription only.
    page3 = server.url("/story/3")
    server.serve_raw(
        "/story/3", ARTICLE_PAGE.format(og=server.url("/og3.jpg"), paragraphs=paragraphs), "text/html"
    )
    feed.publish(item(3, link=page3, summary="<p>No <em>picture</em> here.</p>"))
    await poller.poll_due(clock.advance(3600))
    assert (await outbox_specs(db, 10))[-1].embeds[0].image_url is None
    assert (await outbox_specs(db, 10))[-1].embeds[0].description == "No *picture* here."
    assert (await outbox_specs(db, 20))[-1].embeds[0].image_url == server.url("/og3.jpg")
