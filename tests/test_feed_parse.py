"""Feed parsing: golden feeds through both parser paths, bombs, malformed input, web pages.

Golden style: ``tests/data/feeds/<name>.xml`` (or ``.json``) beside ``<name>.expected.json``,
the parsed feed with ``content_html`` reduced to its text (the paths differ in markup: feedparser
sanitises and absolutises it, fastfeedparser hands it back as the feed wrote it).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import pickle
import random
import time
from datetime import UTC
from pathlib import Path
from typing import Any

import feedparser
import pytest
from aiohttp import web

from bot.errors import FeedParseError, NotAFeedError
from bot.feeds import FeedEntry, ParsedFeed, entry_key, link_key, parse_feed
from bot.feeds._build import _same_as_link
from bot.feeds._expat import EntityDeclaredError
from bot.feeds._text import absolute, collapse_space, html_to_text
from bot.feeds.jobs import parse_with_keys
from tests.loopback import serve

DATA = Path(__file__).parent / "data" / "feeds"
URL = "https://feeds.example/path/feed.xml"

WELL_FORMED = [
    "rss2_quirks.xml",
    "rss2_windows1252.xml",
    "rss2_iso8859_1.xml",
    "rss2_odd_dates.xml",
    "rss1_rdf.xml",
    "atom_xml_base.xml",
    "media_rss.xml",
    "rss091_netscape.xml",
    # Titles as the publisher wrote them (issue 15): tests/test_feed_titles.py spells them out.
    "rss_titles.xml",
    "atom_titles.xml",
    "atom03_legacy.xml",
]
# Not well-formed XML: only feedparser reads them; forcing the fast path must fail cleanly.
MALFORMED = ["malformed.xml", "html_entities.xml"]
# Well-formed, but a format fastfeedparser does not know (RSS 0.90's namespace).
FALLBACK_ONLY = ["rss090.xml"]
JSON_FEEDS = ["jsonfeed_1_1.json", "jsonfeed_1_0.json"]
BOMBS = ["billion_laughs.xml", "external_entity.xml"]


def _body(name: str) -> bytes:
    return (DATA / name).read_bytes()


def _expected(name: str) -> dict[str, Any]:
    return json.loads((DATA / f"{name.rsplit('.', 1)[0]}.expected.json").read_text("utf-8"))


def _comparable(feed: ParsedFeed) -> dict[str, Any]:
    data = feed.to_dict()
    data.pop("parser")
    for entry in data["entries"]:
        entry["content_text"] = html_to_text(entry.pop("content_html"))
        # As each parser hands it over (feedparser sanitises it): checked on its own, below.
        entry.pop("summary_html")
        assert entry.pop("summary_markdown") is None  # made only for posted entries
    return data


@pytest.mark.parametrize("parser", ["auto", "fastfeedparser", "feedparser"])
@pytest.mark.parametrize("name", WELL_FORMED)
def test_golden_well_formed_on_every_path(name: str, parser: str) -> None:
    feed = parse_feed(_body(name), url=URL, parser=parser)  # type: ignore[arg-type]
    assert _comparable(feed) == _expected(name)
    assert feed.parser == ("fastfeedparser" if parser == "auto" else parser)


@pytest.mark.parametrize("name", MALFORMED)
def test_golden_malformed_falls_back_to_feedparser(name: str) -> None:
    feed = parse_feed(_body(name), url=URL)
    assert feed.parser == "feedparser"
    assert _comparable(feed) == _expected(name)
    with pytest.raises(FeedParseError, match="not well-formed"):
        parse_feed(_body(name), url=URL, parser="fastfeedparser")


@pytest.mark.parametrize("name", FALLBACK_ONLY)
def test_golden_formats_only_feedparser_knows(name: str) -> None:
    feed = parse_feed(_body(name), url=URL)
    assert feed.parser == "feedparser"
    assert _comparable(feed) == _expected(name)
    with pytest.raises(FeedParseError, match="no title and no entries"):
        parse_feed(_body(name), url=URL, parser="fastfeedparser")


@pytest.mark.parametrize("parser", ["auto", "fastfeedparser", "feedparser"])
@pytest.mark.parametrize("name", JSON_FEEDS)
def test_golden_json_feed(name: str, parser: str) -> None:
    feed = parse_feed(_body(name), url=URL, parser=parser)  # type: ignore[arg-type]
    assert feed.parser == "json"
    assert _comparable(feed) == _expected(name)


def test_the_body_decides_json_or_xml_not_the_content_type() -> None:
    body = _body("jsonfeed_1_0.json")
    assert parse_feed(body, url=URL, content_type="application/feed+json").title == "Old JSON feed"
    assert parse_feed(b"\n  " + body, url=URL, content_type="text/xml").title == "Old JSON feed"
    rss = parse_feed(_body("rss1_rdf.xml"), url=URL, content_type="application/json")
    assert rss.parser == "fastfeedparser" and rss.title == "RDF Site Summary"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"title": "not a feed"}', "not a JSON Feed"),
        (b'{"version": "https://jsonfeed.org/version/1.1", "items": "nope"}', "no items"),
        (b'{"version": "https://jsonfeed.org/version/1.1", "items": [', "not valid JSON"),
    ],
)
def test_json_that_is_not_a_feed(body: bytes, message: str) -> None:
    with pytest.raises(FeedParseError, match=message):
        parse_feed(body, url=URL)


@pytest.mark.parametrize("name", WELL_FORMED + MALFORMED + FALLBACK_ONLY + JSON_FEEDS)
def test_dates_are_utc_and_types_hold(name: str) -> None:
    feed = parse_feed(_body(name), url=URL)
    assert feed.entries
    for entry in feed.entries:
        assert isinstance(entry, FeedEntry)
        assert isinstance(entry.categories, tuple)
        for value in (entry.published, entry.updated):
            assert value is None or value.tzinfo == UTC
        assert FeedEntry.from_dict(json.loads(json.dumps(entry.to_dict()))) == entry


def test_quirks_in_detail() -> None:
    """The behaviours the golden file pins, spelt out (a failing golden diff is hard to read)."""
    for parser in ("fastfeedparser", "feedparser"):
        feed = parse_feed(_body("rss2_quirks.xml"), url=URL, parser=parser)  # type: ignore[arg-type]
        budget, festival, podcast, photo, bare = feed.entries
        # CDATA with markup in a title, double-escaped entity in the feed title.
        assert budget.title == "Council approves new budget & tax plan"
        assert feed.title == "Quirky & Co. News"
        assert festival.title == "Rock ’n’ roll & the city’s festival"
        # Relative link resolved against the feed URL; the fragment is the dedup layer's business.
        assert budget.link == "https://feeds.example/2024/03/budget?utm_source=rss&id=7#comments"
        assert budget.summary == "The council voted 9–2 on Tuesday. More soon."
        assert budget.categories == ("Politics", "Local")
        # Missing guid, and a guid that is just the link: both None, the link identifies them.
        assert festival.guid is None and podcast.guid is None
        assert festival.image_url == "https://cdn.quirky.example/festival-thumb.jpg"
        assert podcast.enclosure_url == "https://feeds.example/media/ep12.mp3"
        assert photo.image_url == photo.enclosure_url == "https://cdn.quirky.example/photo-0302.jpg"
        assert bare.title is None and bare.link is None and bare.summary
        assert (feed.ttl_minutes, feed.update_period_s) == (45, 6 * 3600)


def test_guid_that_looks_relative_is_not_resolved_on_either_path() -> None:
    # feedparser resolves permalink guids against the base; an intermittently malformed feed
    # would then change every key. Both paths must give the guid as written.
    body = b"""<rss version="2.0"><channel><title>t</title>
      <item><title>A</title><link>https://x.example/a</link><guid>12345</guid></item>
    </channel></rss>"""
    broken = body.replace(b"<title>t</title>", b"<title>t & broken</title>")
    fast = parse_feed(body, url=URL, parser="fastfeedparser").entries[0]
    slow = parse_feed(broken, url=URL).entries[0]
    assert fast.guid == slow.guid == "12345"


def test_fastfeedparser_guid_dates_are_not_trusted() -> None:
    # fastfeedparser parses a date-less item's guid as a date ("m-1" -> the 1st of this month).
    body = b"""<rss version="2.0"><channel><title>t</title>
      <item><title>A</title><link>https://x.example/a</link><guid isPermaLink="false">m-1</guid></item>
    </channel></rss>"""
    assert parse_feed(body, url=URL, parser="fastfeedparser").entries[0].published is None


def test_only_the_entries_with_a_date_element_keep_a_date() -> None:
    body = b"""<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/"><channel><title>t</title>
      <pubDate>Mon, 02 Mar 2026 08:00:00 GMT</pubDate>
      <item><title>A</title><link>https://x.example/a</link><guid isPermaLink="false">m-1</guid></item>
      <item><title>B</title><link>https://x.example/b</link><dc:date>2026-03-01T10:00:00Z</dc:date></item>
      <item><title>C</title><link>https://x.example/c</link><guid isPermaLink="false">m-2</guid></item>
    </channel></rss>"""
    undated, dated, undated_too = parse_feed(body, url=URL, parser="fastfeedparser").entries
    assert undated.published is None and undated_too.published is None
    assert dated.published is not None and dated.published.isoformat() == "2026-03-01T10:00:00+00:00"


def test_atom_text_title_keeps_angle_brackets_but_html_title_is_stripped() -> None:
    body = b"""<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title>
      <entry><title type="text">Why x &lt;b&gt; y</title><id>1</id><link href="https://a/1"/></entry>
      <entry><title type="html">Why x &lt;b&gt;bold&lt;/b&gt;</title><id>2</id><link href="https://a/2"/></entry>
    </feed>"""
    for parser in ("fastfeedparser", "feedparser"):
        first, second = parse_feed(body, url=URL, parser=parser).entries  # type: ignore[arg-type]
        assert first.title == "Why x <b> y"
        assert second.title == "Why x bold"


def test_feed_served_as_html_with_blank_lines_before_the_declaration() -> None:
    body = b"\n\n  " + _body("rss2_quirks.xml")
    feed = parse_feed(body, url=URL, content_type="text/html; charset=UTF-8")
    assert feed.parser == "fastfeedparser"
    assert _comparable(feed) == _expected("rss2_quirks.xml")


# --- refusals ---------------------------------------------------------------------------------


def _quadratic_blowup(size: int = 100_000, refs: int = 20_000) -> bytes:
    entity = "x" * size
    refs_text = "&a;" * refs
    return (
        f'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY a "{entity}">]>'
        f'<rss version="2.0"><channel><title>{refs_text}</title>'
        f"<item><title>x</title></item></channel></rss>"
    ).encode()


@pytest.mark.parametrize("parser", ["auto", "fastfeedparser", "feedparser"])
@pytest.mark.parametrize("name", [*BOMBS, "quadratic", "hidden-behind-comment", "utf-16"])
def test_entity_bombs_are_refused_quickly(name: str, parser: str) -> None:
    if name == "quadratic":
        body = _quadratic_blowup()  # 2 GB once expanded
    elif name == "hidden-behind-comment":
        # A prolog comment longer than any fixed look-ahead window must not hide the DOCTYPE.
        body = b"<!-- " + b"x" * 20_000 + b" -->" + _body("billion_laughs.xml").split(b"?>", 1)[1]
    elif name == "utf-16":
        body = _body("billion_laughs.xml").decode().replace('<?xml version="1.0"?>', "").encode("utf-16")
    else:
        body = _body(name)
    started = time.perf_counter()
    with pytest.raises(FeedParseError, match="entit"):
        parse_feed(body, url=URL, parser=parser)  # type: ignore[arg-type]
    assert time.perf_counter() - started < 1.0


def test_plain_feedparser_would_expand_the_bomb(monkeypatch: pytest.MonkeyPatch) -> None:
    """Why the refusal exists: feedparser itself expands declared entities."""
    small = (
        b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "abcdefghij"><!ENTITY b "&a;&a;&a;&a;&a;">]>'
        b'<rss version="2.0"><channel><title>&b;</title></channel></rss>'
    )
    with monkeypatch.context() as patched:
        patched.setattr(feedparser.api, "PREFERRED_XML_PARSERS", ["drv_libxml2"])  # its default
        assert feedparser.parse(small).feed.title == "abcdefghij" * 5
    with pytest.raises(FeedParseError):
        parse_feed(small, url=URL)
    # And the expat reader feedparser gets from bot.feeds._fallback refuses them itself.
    with pytest.raises(EntityDeclaredError, match="entities"):
        feedparser.parse(small)


def test_entity_text_inside_cdata_is_not_a_bomb() -> None:
    body = b"""<rss version="2.0"><channel><title>XML security</title>
      <item><title>How bombs work</title><link>https://sec.example/1</link>
      <description><![CDATA[Never accept <!ENTITY lol "lol"> from strangers.]]></description></item>
    </channel></rss>"""
    feed = parse_feed(body, url=URL)
    assert feed.parser == "fastfeedparser"
    assert feed.entries[0].title == "How bombs work"
    assert feed.entries[0].summary == "Never accept from strangers."


@pytest.mark.parametrize("parser", ["auto", "fastfeedparser", "feedparser"])
@pytest.mark.parametrize("content_type", ["text/html; charset=utf-8", None])
def test_html_page_is_not_a_feed(parser: str, content_type: str | None) -> None:
    with pytest.raises(NotAFeedError, match="web page, not a feed"):
        parse_feed(_body("html_page.html"), url=URL, content_type=content_type, parser=parser)  # type: ignore[arg-type]


def test_html_without_doctype_is_not_a_feed() -> None:
    with pytest.raises(NotAFeedError):
        parse_feed(b"<html><head><title>x</title></head><body>hi</body></html>", url=URL)


@pytest.mark.parametrize(
    "body",
    [b"", b"   \n", b"hello, this is plain text", b"<?xml version='1.0'?><error>quota exceeded</error>"],
)
def test_unreadable_bodies_raise_feed_parse_error(body: bytes) -> None:
    with pytest.raises(FeedParseError) as info:
        parse_feed(body, url=URL)
    assert not isinstance(info.value, NotAFeedError)
    assert str(info.value)  # a message fit for the user


def test_a_body_that_is_a_file_path_is_not_opened(tmp_path: Path) -> None:
    # feedparser.parse(bytes) tries the bytes as a file name first.
    path = tmp_path / "feed.xml"
    path.write_bytes(_body("rss2_quirks.xml"))
    assert feedparser.parse(str(path).encode()).feed.get("title") == "Quirky &amp; Co. News"
    with pytest.raises(FeedParseError):
        parse_feed(str(path).encode(), url=URL)


async def test_a_body_that_is_a_url_is_not_fetched() -> None:
    """fastfeedparser.parse fetches str URLs; parse_feed must never touch the network."""
    hits: list[str] = []

    async def handler(request: web.Request) -> web.Response:
        hits.append(request.path)
        return web.Response(body=_body("rss2_quirks.xml"), content_type="application/rss+xml")

    app = web.Application()
    app.router.add_get("/feed.xml", handler)
    async with serve(app) as base:
        loop = asyncio.get_running_loop()
        for parser in ("auto", "fastfeedparser", "feedparser"):
            with pytest.raises(FeedParseError):
                await loop.run_in_executor(
                    None, lambda p=parser: parse_feed(f"{base}/feed.xml".encode(), url=URL, parser=p)
                )
    assert hits == []


async def test_parse_in_executor_from_a_loopback_fetch() -> None:
    """The intended use: fetch on the loop, parse in an executor."""
    import aiohttp

    async def handler(request: web.Request) -> web.Response:
        return web.Response(body=_body("atom_xml_base.xml"), content_type="application/atom+xml")

    app = web.Application()
    app.router.add_get("/atom.xml", handler)
    async with serve(app) as base, aiohttp.ClientSession() as session:
        async with session.get(f"{base}/atom.xml") as response:
            body = await response.read()
            content_type = response.headers.get("Content-Type")
        loop = asyncio.get_running_loop()
        feed = await loop.run_in_executor(
            None, lambda: parse_feed(body, url=f"{base}/atom.xml", content_type=content_type)
        )
    assert feed.parser == "fastfeedparser"
    assert [e.guid for e in feed.entries][:2] == [
        "tag:blog.example.org,2024:1",
        "tag:blog.example.org,2024:2",
    ]


# --- robustness -------------------------------------------------------------------------------

_INSERTS = [
    b'<!DOCTYPE x [<!ENTITY a "b">]>',
    b"<![CDATA[",
    b"]]>",
    b"<item>",
    b"</item>",
    b"<entry>",
    b'xml:base="../x/"',
    b"<pubDate>31 Feb 2020</pubDate>",
    b"&#xD800;",
    b"<link>http://[broken</link>",
    b'{"version":"https://jsonfeed.org/version/1","items":[{"id":[1],"url":5,"tags":"x"}]}',
]


def _mutate(rng: random.Random, body: bytes) -> bytes:
    data = bytearray(body)
    for _ in range(rng.randint(1, 6)):
        pos = rng.randrange(len(data)) if data else 0
        op = rng.random()
        if op < 0.3:
            del data[pos : pos + rng.randint(1, 50)]
        elif op < 0.6:
            data[pos:pos] = bytes(
                rng.choice(b"<>&\"'/![]{}:;\x00\xff\xfe abc") for _ in range(rng.randint(1, 5))
            )
        elif op < 0.8:
            del data[pos:]
        else:
            data[pos:pos] = rng.choice(_INSERTS)
    return bytes(data)


@pytest.mark.parametrize("seed", range(4))
def test_mangled_feeds_give_a_feed_or_feed_parse_error(seed: int) -> None:
    """Callers catch FeedParseError; nothing else may escape, whatever the bytes."""
    rng = random.Random(seed)
    names = WELL_FORMED + MALFORMED + FALLBACK_ONLY + JSON_FEEDS + BOMBS + ["html_page.html"]
    bodies = [_body(name) for name in names]
    outcomes = {"feed": 0, "error": 0}
    for _ in range(60):
        body = _mutate(rng, rng.choice(bodies))
        for parser in ("auto", "fastfeedparser", "feedparser"):
            try:
                feed = parse_feed(body, url=URL, parser=parser)  # type: ignore[arg-type]
            except FeedParseError:
                outcomes["error"] += 1
                continue
            outcomes["feed"] += 1
            for entry in feed.entries:
                assert entry_key(entry)
                assert entry.published is None or entry.published.tzinfo == UTC
                assert entry.link is None or entry.link.startswith(("http://", "https://"))
    assert outcomes["feed"] and outcomes["error"]  # the mutations exercise both outcomes


# --- what the parse workers ask for -------------------------------------------------------------


def _stripped(feed: ParsedFeed, max_entries: int | None) -> ParsedFeed:
    entries = tuple(dataclasses.replace(e, content_html=None) for e in feed.entries[:max_entries])
    return dataclasses.replace(feed, entries=entries)


@pytest.mark.parametrize("parser", ["auto", "feedparser"])
@pytest.mark.parametrize("name", WELL_FORMED + MALFORMED + JSON_FEEDS)
@pytest.mark.parametrize("max_entries", [None, 1, 0])
def test_without_content_and_past_max_entries_as_if_dropped_afterwards(
    name: str, parser: str, max_entries: int | None
) -> None:
    body = _body(name)
    full = parse_feed(body, url=URL, parser=parser)  # type: ignore[arg-type]
    light = parse_feed(body, url=URL, parser=parser, include_content=False, max_entries=max_entries)  # type: ignore[arg-type]
    assert light == _stripped(full, max_entries)


def test_parse_with_keys_gives_the_entries_for_posting_and_their_keys() -> None:
    body = _body("rss2_quirks.xml")
    parsed, keys = parse_with_keys(body, URL, None)
    assert parsed == _stripped(parse_feed(body, url=URL), None)
    assert keys == tuple((entry_key(e), link_key(e)) for e in parsed.entries)
    assert pickle.loads(pickle.dumps((parsed, keys))) == (parsed, keys)


@pytest.mark.parametrize("name", WELL_FORMED + JSON_FEEDS)
def test_parsed_feeds_and_entries_pickle_back_equal(name: str) -> None:
    feed = parse_feed(_body(name), url=URL)
    assert pickle.loads(pickle.dumps(feed, protocol=pickle.HIGHEST_PROTOCOL)) == feed
    assert pickle.loads(pickle.dumps(feed.entries[0])) == feed.entries[0]


def test_a_guid_is_dropped_exactly_when_it_resolves_to_the_link() -> None:
    """The cheap tests before urljoin never change the answer of resolving the guid."""
    rng = random.Random(20261128)
    pieces = ["a", "b", "/", ".", "..", "?", "#", ":", ";", "//", "tag", "HTTP", "https:", "x.example",
              "%2F", " ", "\t", "\x01", "é", "-", "1", "\\", "story", "site-1", "feed.xml"]  # fmt: skip
    bases = ["https://feeds.example/path/feed.xml", "https://x/", "http://a.b/c/d/", "https://h/a/../b/f",
             "https://h/a;p/b;q?x#y", None]  # fmt: skip
    dropped = 0
    for _ in range(20_000):
        base = rng.choice(bases)
        guid = "".join(rng.choice(pieces) for _ in range(rng.randint(1, 6))).strip()
        resolved = absolute(guid, base)
        if not guid or base is None:
            continue
        # Half the time the link is what the guid resolves to.
        link = resolved if resolved and rng.random() < 0.5 else "https://feeds.example/path/story"
        expected = guid == link or (not guid.startswith(("http:", "https:")) and resolved == link)
        assert _same_as_link(guid, None, link, base) == expected, (guid, base, link)
        dropped += expected
    assert dropped > 1000


def test_collapse_space_shortcut_agrees_with_split_and_join() -> None:
    rng = random.Random(7)
    alphabet = " \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f\x85\xa0\u2003\u3000ab.\u00e9"
    for _ in range(20_000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 90)))
        assert collapse_space(text) == (" ".join(text.split()) or None), repr(text)
    long_plain = "word " * 30 + "end"
    assert collapse_space(long_plain) is long_plain


def test_a_json_feed_nested_past_the_recursion_limit_is_a_parse_error() -> None:
    # A RecursionError escaping the worker would log a traceback on every poll.
    with pytest.raises(FeedParseError, match="nested too deeply"):
        parse_feed(b"[" * 200_000, url="https://example.com/feed.json", content_type="application/feed+json")
