"""Entity bombs in every encoding a parser might read: refused with a clear error, memory bounded.

The bomb guard reads markup as ASCII bytes; in EBCDIC (cp037, cp500, cp1140, cp273, cp875,
cp424), UTF-7 or UTF-16/32, "<!ENTITY" is other bytes. A 2 MB cp037 bomb used to go past it
to feedparser, whose expat expanded it: 177 million characters of titles, a 213 MB peak.
Each is tried through the parser, through ``/feed add`` (the feed service) and the poller.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import tracemalloc
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest
from sqlalchemy import select

from bot.errors import FeedError, FeedParseError
from bot.feeds import parse_feed
from bot.feeds._build import MAX_CATEGORIES, MAX_SUMMARY_CHARS, MAX_TITLE_CHARS
from bot.feeds._encoding import ASCII_BASED, ascii_based
from bot.feeds.parse import MAX_ENTRIES
from bot.feeds.parser_pool import ParserPool
from bot.feeds.poller import FeedPoller
from bot.feeds.service import FeedService
from bot.fetch import Fetcher
from bot.storage import Database
from bot.storage.feed_tables import feeds, subscriptions
from bot.storage.feeds import FeedStore
from tests.feedserver import Clock, FeedServer, item
from tests.test_feed_poller import feed_settings, fetch_settings

URL = "https://feeds.example/feed.xml"
EBCDIC = ["cp037", "cp500", "cp1140", "cp273", "cp875", "cp424"]
# Python codec -> how the bytes carry it: "utf-16" and "utf-32" write a BOM, the others none.
UNICODE = ["utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-le", "utf-32-be"]
ENCODING_REFUSED = "character encoding"
ENTITIES_REFUSED = "entity bomb"


@dataclass(frozen=True)
class Bomb:
    name: str
    body: bytes
    content_type: str
    #: What the refusal says.
    error: str


def _document(size: int, declaration: str, *, in_comment: bool = False) -> str:
    """An RSS feed that declares a 290-character entity and uses it 200 times an item: about
    100 times its size once expanded (expat's own cap).

    ``in_comment`` declares it in a comment before the root element instead: expat sees no
    declaration (and fails on the undefined entity), but feedparser's DOCTYPE rewrite finds it
    there and hands it to its loose parser, which expanded it.
    """
    refs = "&a;" * 100
    item_xml = f"<item><title>{refs}</title><description>{refs}</description></item>"
    items = item_xml * max(1, (size - 300) // len(item_xml))
    entity = f'<!ENTITY a "{"x" * 290}">'
    prolog = f"<!--\n{entity}\n<!DOCTYPE rss>\n-->\n" if in_comment else f"<!DOCTYPE rss [{entity}]>"
    return f'{declaration}{prolog}<rss version="2.0"><channel><title>Bomb</title>{items}</channel></rss>'


def bombs(size: int = 60_000) -> Iterator[Bomb]:
    """Every way tried of hiding an entity declaration in an encoding, made one by one."""
    for codec in EBCDIC:
        declared = f'<?xml version="1.0" encoding="{codec}"?>'
        # All of it in EBCDIC: libxml2 and feedparser recognise "<?xm" in EBCDIC.
        yield Bomb(
            f"{codec}-whole", _document(size, declared).encode(codec), "application/xml", ENCODING_REFUSED
        )
        # An ASCII declaration naming it, the rest in it.
        rest = _document(size, "").encode(codec)
        yield Bomb(f"{codec}-declared", declared.encode() + rest, "application/xml", ENCODING_REFUSED)
        # No declaration: only the Content-Type says (feedparser reads it).
        yield Bomb(f"{codec}-header", rest, f"application/rss+xml; charset={codec}", ENCODING_REFUSED)
    # Python writes "<" and "!" as themselves in UTF-7; "+ADw-" and "+ACE-" are them too.
    utf7 = _document(size, "").replace("<", "+ADw-").replace("!", "+ACE-").encode("ascii")
    yield Bomb(
        "utf-7-declared", b'<?xml version="1.0" encoding="UTF-7"?>' + utf7, "text/xml", ENCODING_REFUSED
    )
    yield Bomb("utf-7-bom", b"+/v8-" + utf7, "application/xml", ENCODING_REFUSED)
    yield Bomb("utf-7-header", utf7, "text/xml; charset=utf-7", ENCODING_REFUSED)
    hidden = _document(size, '<?xml version="1.0" encoding="utf-8"?>\n', in_comment=True)
    yield Bomb("utf-8-in-a-comment", hidden.encode(), "application/rss+xml", ENTITIES_REFUSED)
    for codec in UNICODE:
        declared = f'<?xml version="1.0" encoding="{codec[:6].upper()}"?>'
        yield Bomb(
            f"{codec}-declared", _document(size, declared).encode(codec), "application/xml", ENTITIES_REFUSED
        )
        yield Bomb(f"{codec}-bare", _document(size, "").encode(codec), "application/xml", ENTITIES_REFUSED)


BOMBS = list(bombs())


@pytest.mark.parametrize("parser", ["auto", "fastfeedparser", "feedparser"])
@pytest.mark.parametrize("bomb", BOMBS, ids=[b.name for b in BOMBS])
def test_a_bomb_in_any_encoding_is_refused(bomb: Bomb, parser: str) -> None:
    with pytest.raises(FeedParseError, match=bomb.error):
        parse_feed(bomb.body, url=URL, content_type=bomb.content_type, parser=parser)  # type: ignore[arg-type]


def test_feedparser_never_expands_entities_even_unguarded() -> None:
    """Past the guard, feedparser itself refuses: its expat any declaration, its loose parser
    (when expat fails) any entity its DOCTYPE rewrite found, in a comment or not.
    """
    import feedparser

    import bot.feeds._fallback  # noqa: F401  # installs the refusals
    from bot.feeds._expat import EntityDeclaredError

    declared = '<?xml version="1.0" encoding="utf-8"?>'
    shapes = {
        "expat": _document(5_000, declared),  # the DOCTYPE mid-line: the rewrite leaves it to expat
        # At line starts: the rewrite finds the declaration, keeps it for the loose parser.
        "rewrite": _document(5_000, declared + "\n").replace("[<!ENTITY", "[\n<!ENTITY"),
        "comment": _document(5_000, declared, in_comment=True),
    }
    for shape, document in shapes.items():
        with pytest.raises(EntityDeclaredError):
            feedparser.parse(io.BytesIO(document.encode()), response_headers={"content-type": "text/xml"})
            pytest.fail(shape)


def test_parsing_bombs_keeps_memory_bounded() -> None:
    """Bombs of 2 MB of text each, parsed in a fresh interpreter: its peak resident memory
    grows by a few megabytes at most (by 173 MB for the cp037 one alone before the fix).
    """
    script = """
import json, resource, sys
from bot.feeds import parse_feed
from tests.test_feed_bombs import bombs
from tests.feedserver import synthetic_feed
parse_feed(synthetic_feed(1), url="https://x.example/f")  # imports and caches, before the baseline
largest = [b for b in bombs(2_000_000) if b.name == "utf-32-bare"][0]  # 8 MB: making one costs memory
try:
    parse_feed(largest.body, url="https://x.example/f")
except Exception:
    pass
del largest
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
errors = {}
for bomb in bombs(2_000_000):
    try:
        parse_feed(bomb.body, url="https://x.example/f", content_type=bomb.content_type)
        errors[bomb.name] = None
    except Exception as e:
        errors[bomb.name] = str(e)
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"growth_kb": after - before, "errors": errors}))
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert all(result["errors"].values()), result["errors"]
    assert result["growth_kb"] < 20_000, result


def test_utf16_and_utf32_feeds_read_like_utf8_with_or_without_bom() -> None:
    text = (
        '<rss version="2.0"><channel><title>Déjà vu</title>'
        "<item><title>Ünïcode ✓</title><link>https://example.org/1</link></item></channel></rss>"
    )
    expected = parse_feed(text.encode(), url=URL)
    for codec in UNICODE:
        label = codec[:6].upper()
        for body in (text, f'<?xml version="1.0" encoding="{label}"?>\n{text}'):
            for parser in ("auto", "feedparser"):
                feed = parse_feed(body.encode(codec), url=URL, parser=parser)  # type: ignore[arg-type]
                assert (feed.title, feed.entries) == (expected.title, expected.entries), (codec, parser)


def test_a_feed_labelled_utf16_but_written_in_utf8_is_read() -> None:
    body = (
        '<?xml version="1.0" encoding="UTF-16"?><rss version="2.0"><channel><title>Café</title>'
        "<item><title>A</title><link>https://example.org/a</link></item></channel></rss>"
    ).encode()
    for content_type in ("application/xml", "application/rss+xml; charset=utf-16"):
        feed = parse_feed(body, url=URL, content_type=content_type)
        assert feed.title == "Café" and feed.parser == "fastfeedparser"


def test_feedparser_reads_what_the_guard_read() -> None:
    """The fallback gets UTF-8 and is told so: a Windows-1252 feed the fast path cannot read
    (malformed) reads right, whatever the Content-Type claimed.
    """
    body = (
        '<?xml version="1.0" encoding="windows-1252"?><rss version="2.0"><channel>'
        "<title>Caf\xe9 \u201cnews\u201d</title><item><title>A & B</title></item></channel></rss>"
    ).encode("cp1252")
    for content_type in (None, "text/xml", "application/rss+xml"):
        feed = parse_feed(body, url=URL, content_type=content_type)
        assert (feed.parser, feed.title) == ("feedparser", "Caf\xe9 \u201cnews\u201d")


def test_only_ascii_based_encodings_are_read() -> None:
    ascii_bytes = bytes(range(128))
    for name in ASCII_BASED:
        assert ascii_bytes.decode(name) == ascii_bytes.decode("ascii"), name
        assert ascii_bytes.decode("ascii").encode(name) == ascii_bytes, name
    for label in [*EBCDIC, *UNICODE, "utf-7", "iso-2022-jp", "hz", "johab", "unicode_escape"]:
        assert ascii_based(label) is False, label
    assert ascii_based("EBCDIC-US") is None  # unknown to Python: refused when declared
    with pytest.raises(FeedParseError, match=ENCODING_REFUSED):
        parse_feed(b'<?xml version="1.0" encoding="EBCDIC-US"?><rss/>', url=URL)
    for label in ("UTF-8", "windows-1252", "ISO-8859-1", "Shift_JIS", "x-sjis", "GB2312", "koi8-r"):
        assert ascii_based(label) is True, label


# --- what a parse returns is capped --------------------------------------------------------


def _huge_feed(kind: str) -> bytes:
    title, summary = "T" * (MAX_TITLE_CHARS + 500), "word " * (MAX_SUMMARY_CHARS // 4)
    categories = [f"c{n}" for n in range(MAX_CATEGORIES + 10)]
    if kind == "json":
        items = [
            {
                "id": str(n),
                "url": f"https://example.org/{n}",
                "title": title,
                "summary": summary,
                "tags": categories,
            }
            for n in range(MAX_ENTRIES + 100)
        ]
        doc = {
            "version": "https://jsonfeed.org/version/1.1",
            "title": title,
            "description": summary,
            "items": items,
        }
        return json.dumps(doc).encode()
    tags = "".join(f"<category>{c}</category>" for c in categories)
    entry = f"<item><title>{title}</title><description>{summary}</description>{tags}<link>https://example.org/{{n}}</link></item>"
    broken = "<br>" if kind == "malformed" else ""  # sends it to feedparser
    items = "".join(entry.replace("{n}", str(n)) for n in range(MAX_ENTRIES + 100))
    return (
        f'<rss version="2.0"><channel><title>{title}</title><description>{summary}{broken}</description>'
        f"{items}</channel></rss>"
    ).encode()


@pytest.mark.parametrize("kind", ["rss", "malformed", "json"])
def test_a_parse_returns_capped_text_and_entries(kind: str) -> None:
    feed = parse_feed(_huge_feed(kind), url=URL)
    assert feed.parser == {"rss": "fastfeedparser", "malformed": "feedparser", "json": "json"}[kind]
    assert len(feed.entries) == MAX_ENTRIES
    assert feed.title is not None and len(feed.title) == MAX_TITLE_CHARS
    assert feed.description is not None and len(feed.description) <= MAX_SUMMARY_CHARS
    for entry in feed.entries:
        assert entry.title is not None and len(entry.title) == MAX_TITLE_CHARS
        assert entry.summary is not None and MAX_SUMMARY_CHARS - 5 <= len(entry.summary) <= MAX_SUMMARY_CHARS
        assert len(entry.categories) == MAX_CATEGORIES


# --- through /feed add and the poller ------------------------------------------------------


@contextmanager
def peak_traced() -> Iterator[list[int]]:
    """The peak of Python allocations (bytes) in this process while the block runs."""
    peak: list[int] = []
    tracemalloc.start()
    try:
        yield peak
    finally:
        peak.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()


# 300 kB bombs: about 30 MB each once expanded.
SERVED = list(bombs(300_000))


def served_error(bomb: Bomb) -> str:
    """What the bot says of ``bomb`` fetched: the parser gets the whole Content-Type header, so
    an encoding only the header names is refused as clearly as a declared one."""
    return bomb.error


async def test_feed_add_refuses_each_bomb_with_a_clear_error(db: Database) -> None:
    async with FeedServer() as server, Fetcher(fetch_settings(max_bytes=2_000_000)) as fetcher:
        service = FeedService(FeedStore(db), fetcher, feed_settings(), clock=Clock())  # parses in a thread
        for bomb in SERVED:
            server.serve_raw(f"/{bomb.name}.xml", bomb.body, bomb.content_type)
        with peak_traced() as peak:
            for bomb in SERVED:
                with pytest.raises(FeedError, match=served_error(bomb)):
                    await service.subscribe(1000, 1, server.url(f"/{bomb.name}.xml"), user_id=None)
    assert peak[0] < 20_000_000, peak
    async with db.session() as conn:
        assert (await conn.execute(select(subscriptions))).all() == []


async def test_the_poller_records_a_clear_error_for_each_bomb(db: Database) -> None:
    clock = Clock()
    settings = feed_settings(max_failures=10)
    async with (
        FeedServer() as server,
        Fetcher(fetch_settings(max_bytes=2_000_000)) as fetcher,
        ParserPool(1) as pool,
    ):
        service = FeedService(FeedStore(db), fetcher, settings, clock=clock)
        for bomb in SERVED:
            path = f"/{bomb.name}.xml"
            server.add_feed(path, items=[item(1)])
            await service.subscribe(1000, 1, server.url(path), user_id=None)
            server.serve_raw(path, bomb.body, bomb.content_type)
        poller = FeedPoller(FeedStore(db), fetcher, settings, clock=clock, parser=pool)
        with peak_traced() as peak:
            stats = await poller.poll_due(clock.advance(3600))
        assert (stats.claimed, stats.failed) == (len(SERVED), len(SERVED))
        async with db.session() as conn:
            errors = {r.url: r.last_error for r in (await conn.execute(select(feeds))).all()}
    for bomb in SERVED:
        assert served_error(bomb) in (errors[server.url(f"/{bomb.name}.xml")] or ""), bomb.name
    # What came back from the workers into the bot's process: errors, not expanded text.
    assert peak[0] < 40_000_000, peak
