"""Entry identity, new-item decisions, feed discovery, entry filters and OPML."""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.errors import FilterError, OpmlError
from bot.feeds import (
    COMMON_FEED_PATHS,
    EntryFilter,
    FeedEntry,
    FeedLink,
    OpmlFeed,
    candidate_paths,
    decide_new_items,
    discover_feed_links,
    entry_key,
    link_key,
    parse_feed,
    parse_opml,
    write_opml,
)
from bot.feeds.decide import chronological
from bot.feeds.identity import MAX_KEY_LENGTH

DATA = Path(__file__).parent / "data" / "feeds"
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def make_entry(
    guid: str | None = None,
    link: str | None = None,
    title: str | None = "A title",
    published: datetime | None = None,
    summary: str | None = None,
    categories: tuple[str, ...] = (),
) -> FeedEntry:
    return FeedEntry(
        guid=guid,
        link=link,
        title=title,
        summary=summary,
        content_html=None,
        author=None,
        published=published,
        updated=published,
        categories=categories,
        image_url=None,
        enclosure_url=None,
    )


# --- identity -----------------------------------------------------------------------------------


def test_entry_key_prefers_guid() -> None:
    assert entry_key(make_entry(guid="tag:x,2024:1", link="https://x.example/1")) == "guid:tag:x,2024:1"


def test_entry_key_falls_back_to_the_canonical_link() -> None:
    a = make_entry(link="HTTPS://News.Example:443/story?id=7&utm_source=rss&fbclid=abc#comments")
    b = make_entry(link="https://news.example/story?id=7")
    assert entry_key(a) == entry_key(b) == "link:https://news.example/story?id=7"
    assert link_key(a) == link_key(b) == "https://news.example/story?id=7"
    # Meaningful parameters and paths still tell pages apart.
    assert link_key(make_entry(link="https://news.example/story?id=8")) != link_key(b)


def test_entry_key_hashes_title_and_date_without_guid_or_link() -> None:
    a = make_entry(title="Same", published=T0)
    assert entry_key(a) == entry_key(make_entry(title="Same", published=T0))
    assert entry_key(a).startswith("hash:")
    assert entry_key(a) != entry_key(make_entry(title="Same", published=T0 + timedelta(minutes=1)))
    assert entry_key(a) != entry_key(make_entry(title="Other", published=T0))
    # Without a title the summary tells entries apart.
    assert entry_key(make_entry(title=None, summary="one")) != entry_key(
        make_entry(title=None, summary="two")
    )


def test_keys_are_bounded_for_database_columns() -> None:
    long_guid = make_entry(guid="x" * 1000)
    long_link = make_entry(link="https://x.example/" + "p" * 1000)
    assert len(entry_key(long_guid)) <= MAX_KEY_LENGTH
    assert entry_key(long_guid) != entry_key(make_entry(guid="x" * 999))
    assert len(link_key(long_link) or "") <= MAX_KEY_LENGTH


def test_link_key_for_odd_links() -> None:
    assert link_key(make_entry(link=None)) is None
    # Links canonicalize_url refuses (credentials) still get a stable key.
    assert link_key(make_entry(link="https://user:pw@X.example/a#frag")) == "https://user:pw@x.example/a"


@pytest.mark.parametrize(
    "name", ["rss2_quirks.xml", "atom_xml_base.xml", "rss2_odd_dates.xml", "media_rss.xml"]
)
def test_golden_feed_entries_have_distinct_keys(name: str) -> None:
    feed = parse_feed((DATA / name).read_bytes(), url="https://feeds.example/feed.xml")
    keys = [entry_key(e) for e in feed.entries]
    assert len(set(keys)) == len(keys)


# --- new-item decisions -------------------------------------------------------------------------


def newest_first(count: int, start: datetime = T0) -> list[FeedEntry]:
    """A feed of ``count`` dated entries, newest first, ids 0 (oldest) .. count-1."""
    return [
        make_entry(guid=f"id-{i}", link=f"https://x.example/{i}", published=start + timedelta(hours=i))
        for i in reversed(range(count))
    ]


def test_first_fetch_posts_only_the_newest_and_remembers_the_rest() -> None:
    entries = newest_first(5)
    result = decide_new_items(entries, seen_keys=set(), seen_link_keys=set(), first_fetch=True)
    assert [e.guid for e in result.to_post] == ["id-4"]
    assert [e.guid for e in result.skipped] == ["id-0", "id-1", "id-2", "id-3"]
    assert result.remember_keys == {f"guid:id-{i}" for i in range(5)}
    assert result.remember_link_keys == {f"https://x.example/{i}" for i in range(5)}

    three = decide_new_items(
        entries, seen_keys=set(), seen_link_keys=set(), first_fetch=True, first_fetch_count=3
    )
    assert [e.guid for e in three.to_post] == ["id-2", "id-3", "id-4"]  # oldest first
    none = decide_new_items(
        entries, seen_keys=set(), seen_link_keys=set(), first_fetch=True, first_fetch_count=0
    )
    assert none.to_post == () and len(none.remember_keys) == 5


def test_later_fetch_posts_unseen_entries_oldest_first() -> None:
    first = decide_new_items(newest_first(3), seen_keys=set(), seen_link_keys=set(), first_fetch=True)
    entries = newest_first(6)
    result = decide_new_items(
        entries, seen_keys=first.remember_keys, seen_link_keys=first.remember_link_keys, first_fetch=False
    )
    assert [e.guid for e in result.to_post] == ["id-3", "id-4", "id-5"]
    assert result.remember_keys == {"guid:id-3", "guid:id-4", "guid:id-5"}
    again = decide_new_items(
        entries,
        seen_keys=first.remember_keys | result.remember_keys,
        seen_link_keys=first.remember_link_keys | result.remember_link_keys,
        first_fetch=False,
    )
    assert again.to_post == () and again.remember_keys == frozenset()


def test_changed_guid_on_the_same_link_is_not_a_new_post() -> None:
    old = make_entry(guid="old-guid", link="https://x.example/story?utm_source=a", published=T0)
    seen = decide_new_items([old], seen_keys=set(), seen_link_keys=set(), first_fetch=True)
    reposted = replace(old, guid="new-guid", link="https://x.example/story?utm_source=b")
    result = decide_new_items(
        [reposted], seen_keys=seen.remember_keys, seen_link_keys=seen.remember_link_keys, first_fetch=False
    )
    assert result.to_post == ()
    assert result.remember_keys == {"guid:new-guid"}  # learnt, so it is recognised by key next time


def test_undated_entries_keep_reversed_feed_order() -> None:
    entries = [make_entry(guid=g, link=f"https://x.example/{g}") for g in ("c", "b", "a")]
    result = decide_new_items(entries, seen_keys=set(), seen_link_keys=set(), first_fetch=False)
    assert [e.guid for e in result.to_post] == ["a", "b", "c"]


def test_mixed_dates_sort_chronologically_with_undated_after_their_older_neighbour() -> None:
    entries = [
        make_entry(guid="newest", published=T0 + timedelta(hours=3)),
        make_entry(guid="undated-new"),  # listed between newest and middle
        make_entry(guid="middle", published=T0 + timedelta(hours=2)),
        make_entry(guid="oldest", published=T0),
        make_entry(guid="undated-old"),  # at the bottom: older than everything
    ]
    assert [e.guid for e in chronological(entries)] == [
        "undated-old",
        "oldest",
        "middle",
        "undated-new",
        "newest",
    ]
    # A feed that is not sorted newest first still comes out in date order.
    shuffled = [entries[2], entries[0], entries[3]]
    assert [e.guid for e in chronological(shuffled)] == ["oldest", "middle", "newest"]


def test_duplicates_within_one_fetch_post_once() -> None:
    a = make_entry(guid="a", link="https://x.example/a", published=T0)
    b = make_entry(guid="b", link="https://x.example/b", published=T0 - timedelta(hours=1))
    result = decide_new_items([a, b, a, b], seen_keys=set(), seen_link_keys=set(), first_fetch=False)
    assert [e.guid for e in result.to_post] == ["b", "a"]
    assert result.remember_keys == {"guid:a", "guid:b"}


def test_a_link_shared_by_several_entries_does_not_hide_them() -> None:
    # A changelog feed whose items all point at the same page, told apart by their guids.
    old = [
        make_entry(guid=f"v{i}", link="https://x.example/changelog", published=T0 + timedelta(days=i))
        for i in (2, 1)
    ]
    first = decide_new_items(old, seen_keys=set(), seen_link_keys=set(), first_fetch=True)
    assert first.remember_link_keys == frozenset()
    new = make_entry(guid="v3", link="https://x.example/changelog#v3", published=T0 + timedelta(days=3))
    result = decide_new_items(
        [new, *old], seen_keys=first.remember_keys, seen_link_keys=first.remember_link_keys, first_fetch=False
    )
    assert [e.guid for e in result.to_post] == ["v3"]


def test_max_posts_caps_a_flood_keeping_the_newest() -> None:
    result = decide_new_items(
        newest_first(30), seen_keys=set(), seen_link_keys=set(), first_fetch=False, max_posts=5
    )
    assert [e.guid for e in result.to_post] == [f"id-{i}" for i in range(25, 30)]
    assert len(result.skipped) == 25 and len(result.remember_keys) == 30


# --- discovery ----------------------------------------------------------------------------------


PAGE = """<!DOCTYPE html><html><head>
<base href="https://cdn.example/site/">
<link rel="stylesheet" href="/style.css">
<link rel="alternate" type="application/rss+xml" title="Main feed" href="feed.xml">
<LINK REL="Alternate" TYPE="application/atom+xml; charset=utf-8" HREF="/atom.xml" TITLE="Atom">
<link rel="alternate" type="application/rss+xml" title="Duplicate" href="https://cdn.example/site/feed.xml">
<link rel="alternate home" type="application/feed+json" href="//json.example/feed.json">
<link rel="alternate" hreflang="fr" href="/fr/">
<link rel="alternate" type="application/rss+xml" href="javascript:alert(1)">
<link rel="alternate" type="text/html" href="/other">
</head><body><link rel="feed" type="application/atom+xml" href="/comments.atom"></body></html>"""


def test_discovery_finds_announced_feeds_in_page_order() -> None:
    links = discover_feed_links(PAGE, "https://www.example/articles/1")
    assert links == [
        FeedLink("https://cdn.example/site/feed.xml", "Main feed", "application/rss+xml"),
        FeedLink("https://cdn.example/atom.xml", "Atom", "application/atom+xml"),
        FeedLink("https://json.example/feed.json", None, "application/feed+json"),
        FeedLink("https://cdn.example/comments.atom", None, "application/atom+xml"),
    ]


def test_discovery_on_the_golden_page_resolves_against_the_page_url() -> None:
    html = (DATA / "html_page.html").read_text("utf-8")
    assert discover_feed_links(html, "https://blog.example/2024/post") == [
        FeedLink("https://blog.example/feed.xml", "Posts", "application/rss+xml")
    ]


def test_discovery_on_xhtml_with_an_xml_declaration() -> None:
    page = (
        '<?xml version="1.0" encoding="iso-8859-1"?>\n<html xmlns="http://www.w3.org/1999/xhtml"><head>'
        '<link rel="alternate" type="application/atom+xml" href="/atom"/></head><body/></html>'
    )
    assert [link.url for link in discover_feed_links(page, "https://x.example/")] == [
        "https://x.example/atom"
    ]


@pytest.mark.parametrize(
    "html", ["", "   ", "<html><head></head><body>no feeds</body></html>", "not html at all"]
)
def test_discovery_without_feeds(html: str) -> None:
    assert discover_feed_links(html, "https://x.example/") == []


def test_candidate_paths() -> None:
    root_only = candidate_paths("https://x.example")
    assert root_only == [f"https://x.example{p}" for p in COMMON_FEED_PATHS]
    assert {
        "https://x.example/feed",
        "https://x.example/atom.xml",
        "https://x.example/feeds/posts/default",
    } <= set(root_only)
    nested = candidate_paths("https://x.example/blog/some-post?page=2#top")
    assert nested[0] == "https://x.example/blog/feed"
    assert nested.index("https://x.example/blog/feed") < nested.index("https://x.example/feed")
    assert len(nested) == len(set(nested))
    assert all(url.startswith("https://x.example/") for url in nested)


# --- filters ------------------------------------------------------------------------------------


def test_keywords_are_case_insensitive_whole_words() -> None:
    f = EntryFilter(include=["AI"])
    assert f.matches(make_entry(title="New ai rules"))
    assert not f.matches(make_entry(title="She said no"))  # "ai" inside a word
    assert EntryFilter(include=["c++"]).matches(make_entry(title="Why C++ is back"))
    assert not EntryFilter(include=["c++"]).matches(make_entry(title="Why C is back"))
    assert EntryFilter(include=["climate change"]).matches(make_entry(title="On Climate change today"))


def test_filter_looks_at_title_summary_and_categories() -> None:
    f = EntryFilter(include=["python"])
    assert f.matches(make_entry(title="x", summary="Learning Python today"))
    assert f.matches(make_entry(title="x", categories=("Python",)))
    assert not f.matches(make_entry(title="x", summary="Rust", categories=("Go",)))


def test_include_and_exclude() -> None:
    f = EntryFilter(include=["football", "/\\bsoccer\\b/i"], exclude=["betting"])
    assert f.matches(make_entry(title="Football tonight"))
    assert f.matches(make_entry(title="SOCCER results"))
    assert not f.matches(make_entry(title="Football betting odds"))
    assert not f.matches(make_entry(title="Tennis"))
    assert EntryFilter().matches(make_entry(title="anything"))
    assert not EntryFilter(exclude=["sponsored"]).matches(make_entry(title="x", categories=("Sponsored",)))


def test_regex_flags() -> None:
    assert not EntryFilter(include=["/^breaking/"]).matches(make_entry(title="BREAKING: news"))
    assert EntryFilter(include=["/^breaking/i"]).matches(make_entry(title="BREAKING: news"))
    assert EntryFilter(include=["/^second line/im"]).matches(make_entry(title="first", summary="Second line"))


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("/(unclosed/", "Invalid regex"),
        ("/a{2,1}/", "Invalid regex"),
        ("/(?V0)(?V1)x/", "Invalid regex"),
        ("/ok/q", "Unknown regex flag"),
        ("/r/python", "Unknown regex flag"),
        ("//i", "empty"),
        ("x" * 301, "at most 300"),
    ],
)
def test_invalid_patterns_raise_filter_error(pattern: str, message: str) -> None:
    with pytest.raises(FilterError, match=message):
        EntryFilter(include=[pattern])
    with pytest.raises(FilterError):
        EntryFilter(exclude=[pattern])


def test_a_lone_slash_is_a_keyword() -> None:
    assert EntryFilter(include=["/"]).include[0].source == "/"


def test_catastrophic_regex_times_out_as_no_match(caplog: pytest.LogCaptureFixture) -> None:
    evil = "/(a|aa)+$/"
    entry = make_entry(title="a" * 40 + "!")
    include = EntryFilter(include=[evil], timeout_s=0.02)
    started = time.perf_counter()
    result = include.evaluate(entry)
    assert time.perf_counter() - started < 1.0
    assert result.matched is False and result.timed_out == (evil,)
    # As an exclude pattern, a timeout does not exclude.
    exclude = EntryFilter(exclude=[evil], timeout_s=0.02)
    with caplog.at_level(logging.WARNING, logger="bot.feeds.filters"):
        assert exclude.matches(entry) is True
    assert "timed out" in caplog.text


# --- OPML ---------------------------------------------------------------------------------------

OPML = b"""<?xml version="1.0" encoding="UTF-8"?>
<opml version="2.0">
  <head><title>My subscriptions</title></head>
  <body>
    <outline text="Tech">
      <outline type="rss" text="Ars" title="Ars Technica" xmlUrl="https://feeds.arstechnica.example/arstechnica/index"/>
      <outline text="Nested folder">
        <outline type="rss" text="LWN &amp; friends" xmlUrl="https://lwn.example/headlines/rss#frag"/>
      </outline>
    </outline>
    <outline type="rss" text="No URL here"/>
    <outline type="rss" text="Gopher" xmlUrl="gopher://old.example/feed"/>
    <outline type="rss" text="Duplicate Ars" xmlUrl="https://feeds.arstechnica.example/arstechnica/index"/>
    <outline type="rss" text="Lower-case attribute" xmlurl="https://lower.example/feed"/>
  </body>
</opml>"""


def test_parse_opml_flattens_folders_and_reports_bad_outlines() -> None:
    result = parse_opml(OPML)
    assert result.feeds == [
        OpmlFeed("https://feeds.arstechnica.example/arstechnica/index", "Ars Technica"),
        OpmlFeed("https://lwn.example/headlines/rss", "LWN & friends"),
        OpmlFeed("https://lower.example/feed", "Lower-case attribute"),
    ]
    assert len(result.errors) == 3
    assert any("No URL here" in e and "without an xmlUrl" in e for e in result.errors)
    assert any("Gopher" in e and "http" in e for e in result.errors)
    assert any("Duplicate Ars" in e and "duplicate" in e for e in result.errors)
    assert all(e.startswith("line ") for e in result.errors)


def test_opml_round_trip() -> None:
    feeds = [
        OpmlFeed("https://a.example/feed.xml", 'Quotes " and <angle> & ampersands'),
        OpmlFeed("https://b.example/rss?x=1&y=2", "Ünïcödé — 日本語"),
        OpmlFeed("https://c.example/atom", None),
    ]
    data = write_opml(feeds, "Export & backup")
    assert data.startswith(b"<?xml")
    result = parse_opml(data)
    assert result.errors == []
    # A title-less feed is written with its URL as text (OPML requires text), and read back so.
    assert result.feeds == [*feeds[:2], OpmlFeed("https://c.example/atom", "https://c.example/atom")]
    assert parse_opml(write_opml(result.feeds, "again")).feeds == result.feeds


def test_opml_entity_bombs_are_refused_without_expansion() -> None:
    bomb = (
        (DATA / "billion_laughs.xml")
        .read_bytes()
        .replace(
            b'<rss version="2.0"><channel><title>&lol9;</title><item><title>&lol9;</title><link>https://bomb.example/</link></item></channel></rss>',
            b'<opml version="2.0"><body><outline text="&lol9;" xmlUrl="https://x.example/feed"/></body></opml>',
        )
    )
    assert b"<opml" in bomb
    started = time.perf_counter()
    with pytest.raises(OpmlError, match="entities"):
        parse_opml(bomb)
    assert time.perf_counter() - started < 1.0


def test_opml_external_entities_are_refused() -> None:
    xxe = b"""<?xml version="1.0"?><!DOCTYPE opml [<!ENTITY x SYSTEM "file:///etc/passwd">]>
    <opml version="2.0"><body><outline text="&x;" xmlUrl="https://x.example/feed"/></body></opml>"""
    with pytest.raises(OpmlError, match="entities"):
        parse_opml(xxe)


def test_opml_with_a_broken_prefixed_root_is_refused_cleanly() -> None:
    with pytest.raises(OpmlError):
        parse_opml(b"<b:><body><outline xmlUrl='https://x.example/f'/></body></b:>")


def test_malformed_opml_is_read_as_far_as_possible() -> None:
    broken = b"""<opml version="1.0"><body>
      <outline text="Tom & Jerry" xmlUrl="https://tj.example/feed"/>
      <outline text="Fine" xmlUrl="https://fine.example/feed"/>
    </body></opml>"""
    result = parse_opml(broken)
    assert [f.url for f in result.feeds] == ["https://tj.example/feed", "https://fine.example/feed"]
    assert any("not well-formed" in e for e in result.errors)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"just text", "not a valid OPML"),
        (b"<rss version='2.0'><channel/></rss>", "not OPML"),
        (b"<opml version='2.0'><head/></opml>", "no <body>"),
    ],
)
def test_unusable_opml(data: bytes, message: str) -> None:
    with pytest.raises(OpmlError, match=message):
        parse_opml(data)
