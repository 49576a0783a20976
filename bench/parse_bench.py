"""Feed parsing speed: newsdesk's ``parse_feed`` beside plain ``feedparser.parse``, one run.

Generates realistic 20-item feeds (RSS 2.0 with content:encoded, media and categories; Atom;
RSS 1.0), times each parser on each feed (best of ``--repeat`` runs, so a busy shared machine
adds less noise), and checks that both read the same titles, links and ids. "rss2-bad" feeds have
one bare "&", so parse_feed takes its feedparser fallback: that row shows the fallback's cost.

    python3 bench/parse_bench.py [--feeds 30] [--repeat 5]
"""

from __future__ import annotations

import argparse
import io
import random
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from xml.sax.saxutils import escape

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import fastfeedparser
import feedparser

from bot.feeds import parse_feed
from bot.feeds._text import html_to_text

WORDS = [
    "council",
    "budget",
    "election",
    "market",
    "shares",
    "climate",
    "storm",
    "river",
    "city",
    "festival",
    "court",
    "minister",
    "report",
    "energy",
    "price",
    "school",
    "health",
    "hospital",
    "police",
    "train",
    "airport",
    "rocket",
    "science",
    "study",
    "players",
    "season",
    "coach",
    "transfer",
    "museum",
    "artist",
    "album",
    "film",
    "series",
    "launch",
    "update",
    "security",
]
ITEMS = 20
START = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


def sentence(rng: random.Random, words: int) -> str:
    text = " ".join(rng.choice(WORDS) for _ in range(words))
    return text[0].upper() + text[1:] + "."


def paragraphs(rng: random.Random, count: int) -> str:
    return "".join(
        f"<p>{' '.join(sentence(rng, rng.randint(8, 20)) for _ in range(4))}</p>" for _ in range(count)
    )


def rss2(rng: random.Random, n: int) -> bytes:
    items = []
    for i in range(ITEMS):
        when = START - timedelta(hours=i * 3, minutes=rng.randint(0, 59))
        title = sentence(rng, rng.randint(5, 10))[:-1] + (" &amp; more" if i % 5 == 0 else "")
        items.append(
            f"""<item>
  <title>{title}</title>
  <link>https://site{n}.example/{when:%Y/%m}/story-{i}?utm_source=rss</link>
  <guid isPermaLink="false">site{n}-{1000 + i}</guid>
  <pubDate>{format_datetime(when)}</pubDate>
  <dc:creator>{rng.choice(["Ann Lee", "Bo Chen", "Cy Diaz"])}</dc:creator>
  <category>{rng.choice(WORDS)}</category><category>{rng.choice(WORDS)}</category>
  <description>{escape(paragraphs(rng, 1))}</description>
  <content:encoded><![CDATA[{paragraphs(rng, 5)}<img src="/img/{i}.jpg">]]></content:encoded>
  <media:thumbnail url="https://cdn.site{n}.example/thumbs/{i}.jpg" width="300" height="200"/>
</item>"""
        )
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/"
 xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:media="http://search.yahoo.com/mrss/">
<channel><title>Site {n} News</title><link>https://site{n}.example/</link>
<description>{sentence(rng, 8)}</description><language>en</language><ttl>30</ttl>
{"".join(items)}
</channel></rss>""".encode()


def atom(rng: random.Random, n: int) -> bytes:
    entries = []
    for i in range(ITEMS):
        when = START - timedelta(hours=i * 2)
        entries.append(
            f"""<entry>
  <title type="html">{escape(sentence(rng, 7))}</title>
  <link rel="alternate" href="https://blog{n}.example/posts/{i}"/>
  <id>tag:blog{n}.example,2026:{i}</id>
  <published>{when.isoformat()}</published><updated>{when.isoformat()}</updated>
  <author><name>Writer {i % 3}</name></author>
  <category term="{rng.choice(WORDS)}"/>
  <summary type="html">{escape(paragraphs(rng, 1))}</summary>
  <content type="html">{escape(paragraphs(rng, 5))}</content>
</entry>"""
        )
    return f"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Blog {n}</title>
<link href="https://blog{n}.example/"/><id>urn:blog{n}</id><updated>{START.isoformat()}</updated>
{"".join(entries)}
</feed>""".encode()


def rdf(rng: random.Random, n: int) -> bytes:
    items = "".join(
        f"""<item rdf:about="https://rdf{n}.example/{i}"><title>{sentence(rng, 6)}</title>
<link>https://rdf{n}.example/{i}</link><description>{escape(paragraphs(rng, 2))}</description>
<dc:date>{(START - timedelta(hours=i)).isoformat()}</dc:date></item>"""
        for i in range(ITEMS)
    )
    return f"""<?xml version="1.0"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/"
 xmlns:dc="http://purl.org/dc/elements/1.1/">
<channel rdf:about="https://rdf{n}.example/"><title>RDF {n}</title><link>https://rdf{n}.example/</link>
<description>d</description></channel>{items}</rdf:RDF>""".encode()


def best_of(repeat: int, func: Callable[[], object]) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        func()
        best = min(best, time.perf_counter() - started)
    return best


def agree(body: bytes, url: str) -> tuple[int, list[str]]:
    """How many entries both parsers read alike (title, link, id), and what differed."""
    ours = parse_feed(body, url=url).entries
    theirs = feedparser.parse(io.BytesIO(body), response_headers={"content-location": url}).entries
    problems = []
    if len(ours) != len(theirs):
        problems.append(f"{len(ours)} entries vs {len(theirs)}")
    same = 0
    for mine, other in zip(ours, theirs, strict=False):
        their_link = other.get("link")
        their_id = other.get("id")
        # newsdesk drops an id that only repeats the link (see FeedEntry.guid).
        their_guid = None if their_id == their_link else their_id
        checks = {
            "title": (mine.title, html_to_text(other.get("title"))),
            "link": (mine.link, their_link),
            "id": (mine.guid, their_guid),
        }
        bad = [f"{k}: {a!r} != {b!r}" for k, (a, b) in checks.items() if a != b]
        if bad:
            problems.extend(bad)
        else:
            same += 1
    return same, problems


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=int, default=30, help="feeds to generate (a third of each kind)")
    parser.add_argument("--repeat", type=int, default=5, help="runs per feed and parser; the best counts")
    args = parser.parse_args()

    rng = random.Random(20260301)
    makers = [rss2, atom, rdf]
    feeds = [(makers[i % 3].__name__, makers[i % 3](rng, i)) for i in range(args.feeds)]
    # The fallback path's cost: the same RSS with one bare "&" in the channel title.
    feeds += [
        ("rss2-bad", body.replace(b"News</title>", b"News & Co</title>", 1))
        for kind, body in feeds
        if kind == "rss2"
    ]
    url = "https://feeds.example/feed.xml"

    rows: dict[str, dict[str, list[float]]] = {}
    entries_same = entries_total = 0
    disagreements: list[str] = []
    paths: set[str] = set()
    for kind, body in feeds:
        ours = best_of(args.repeat, lambda b=body: parse_feed(b, url=url))
        plain = best_of(args.repeat, lambda b=body: feedparser.parse(io.BytesIO(b)))
        fast = best_of(args.repeat, lambda b=body: fastfeedparser.parse(b))
        for name, value in (
            ("newsdesk parse_feed", ours),
            ("feedparser.parse", plain),
            ("fastfeedparser.parse", fast),
        ):
            rows.setdefault(kind, {}).setdefault(name, []).append(value * 1000)
        paths.add(parse_feed(body, url=url).parser)
        same, problems = agree(body, url)
        entries_same += same
        entries_total += ITEMS
        disagreements.extend(f"{kind}: {p}" for p in problems)

    sizes = [len(body) for _, body in feeds]
    print(
        f"{len(feeds)} generated feeds x {ITEMS} items, {min(sizes) // 1024}-{max(sizes) // 1024} KB each, "
        f"best of {args.repeat} runs per feed; parse_feed took the {'/'.join(sorted(paths))} path"
    )
    print(f"{'feed kind':<8} {'parser':<22} {'median ms':>10} {'mean ms':>10} {'max ms':>10}")
    for kind, by_parser in rows.items():
        for name, values in by_parser.items():
            print(
                f"{kind:<8} {name:<22} {statistics.median(values):>10.2f} {statistics.mean(values):>10.2f} "
                f"{max(values):>10.2f}"
            )
    well_formed = [r for kind, r in rows.items() if kind != "rss2-bad"]
    all_ours = [v for r in well_formed for v in r["newsdesk parse_feed"]]
    all_plain = [v for r in well_formed for v in r["feedparser.parse"]]
    ours_ms, plain_ms = statistics.median(all_ours), statistics.median(all_plain)
    print(
        f"well-formed feeds, median: parse_feed {ours_ms:.2f} ms, feedparser {plain_ms:.2f} ms, "
        f"parse_feed is x{plain_ms / ours_ms:.1f} faster"
    )
    print(f"agreement with feedparser on title/link/id: {entries_same}/{entries_total} entries")
    for line in disagreements[:20]:
        print("  differs:", line)


if __name__ == "__main__":
    main()
