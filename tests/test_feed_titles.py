"""Titles as the publisher wrote them, on both parser paths (issue 15, point 6).

The goldens (``tests/data/feeds/{rss_titles,atom_titles,atom03_legacy}.xml``) run with the
others in tests/test_feed_parse.py; this file spells out each case, shows that fastfeedparser
alone gets them wrong (so the fast path's own reading is what makes them pass), and pins the
rule for titles that do not say whether they are HTML.
"""

from __future__ import annotations

import base64
from pathlib import Path

import fastfeedparser
import pytest

from bot.feeds import parse_feed
from bot.feeds._text import loose_html_to_text

DATA = Path(__file__).parent / "data" / "feeds"
URL = "https://feeds.example/path/feed.xml"
PATHS = ["fastfeedparser", "feedparser"]


def _titles(name: str, parser: str) -> list[str | None]:
    feed = parse_feed((DATA / name).read_bytes(), url=URL, parser=parser)  # type: ignore[arg-type]
    assert feed.parser == parser
    return [entry.title for entry in feed.entries]


def _raw_fastfeedparser_titles(name: str) -> list[str]:
    return [e.get("title") for e in fastfeedparser.parse((DATA / name).read_bytes())["entries"]]


@pytest.mark.parametrize("parser", PATHS)
def test_xhtml_atom_titles_are_not_empty(parser: str) -> None:
    titles = _titles("atom_titles.xml", parser)
    assert titles[0] == "Markup in & around titles"
    # Escaped text inside the xhtml stays text; <br/> is a space, <code> is markup.
    assert titles[3] == "Escaped <blink> inside xhtml"
    feed = parse_feed((DATA / "atom_titles.xml").read_bytes(), url=URL, parser=parser)  # type: ignore[arg-type]
    assert feed.title == "The Markup Log"


def test_fastfeedparser_alone_loses_xhtml_titles() -> None:
    raw = _raw_fastfeedparser_titles("atom_titles.xml")
    assert raw[0] == "" and raw[3] == ""


@pytest.mark.parametrize("parser", PATHS)
def test_a_mentioned_tag_is_kept_in_text_and_undeclared_titles(parser: str) -> None:
    atom = _titles("atom_titles.xml", parser)
    assert atom[1] == "History of the <blink> tag"  # type="text"
    assert atom[2] == "The <marquee> tag, again & again"  # type="html", the mention escaped twice
    rss = _titles("rss_titles.xml", parser)
    assert rss[0] == "History of the <blink> tag"
    # Markup goes, a mentioned tag stays, in the same title.
    assert rss[1] == "Why <T> beats any in generics & templates"
    assert rss[4] == "Storm hits the coast \u2013 <live> updates"


@pytest.mark.parametrize("parser", PATHS)
def test_base64_atom_03_titles_are_decoded(parser: str) -> None:
    titles = _titles("atom03_legacy.xml", parser)
    assert titles == [
        "Café review: why the <blink> tag came back",  # text/plain, base64
        "Bold move & more",  # text/html, base64
        "Escaped markup & an <iframe> mention",  # text/html, mode="escaped"
        "Plain <title> by default",  # no type: text/plain
    ]
    feed = parse_feed((DATA / "atom03_legacy.xml").read_bytes(), url=URL, parser=parser)  # type: ignore[arg-type]
    bold = feed.entries[1]
    assert bold.summary == "A bold move, read on."  # base64 content, decoded
    assert feed.entries[2].summary == "A plain summary, base64-encoded & all."
    assert feed.description == "An Atom 0.3 weblog"


def test_the_fast_path_reads_atom_03_itself() -> None:
    body = (DATA / "atom03_legacy.xml").read_bytes()
    assert parse_feed(body, url=URL).parser == "fastfeedparser"
    raw = _raw_fastfeedparser_titles("atom03_legacy.xml")
    assert base64.b64decode(raw[0]).decode() == "Café review: why the <blink> tag came back"


@pytest.mark.parametrize("parser", PATHS)
def test_an_entrys_own_title_wins_over_its_media_title(parser: str) -> None:
    rss = _titles("rss_titles.xml", parser)
    assert rss[2] == "Budget passes after all-night session"  # media:title written first
    assert rss[3] == "Episode 12: the budget, explained"  # itunes:title written first
    # With no title of its own, the media title is better than none.
    assert rss[5] == "A clip with no other title"
    assert _titles("atom_titles.xml", parser)[4] == "Rocket launch delayed by a day"


def test_fastfeedparser_alone_shows_the_media_title() -> None:
    raw = _raw_fastfeedparser_titles("rss_titles.xml")
    assert raw[2] == "Watch: the vote in 90 seconds" and raw[3] == "Ep. 12"


@pytest.mark.parametrize("parser", PATHS)
def test_markup_written_as_elements_in_an_rss_title_is_kept_as_text(parser: str) -> None:
    body = b"""<rss version="2.0"><channel><title>t</title>
      <item><title>Rates rise <em xmlns="http://www.w3.org/1999/xhtml">again</em> &amp; again</title>
      <link>https://x.example/1</link></item>
    </channel></rss>"""
    assert parse_feed(body, url=URL, parser=parser).entries[0].title == "Rates rise again & again"  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("title", "text"),
    [
        ("History of the <blink> tag", "History of the <blink> tag"),
        ("<b>Breaking</b>: council &amp; mayor agree", "Breaking: council & mayor agree"),
        ("First <b>unclosed bold", "First unclosed bold"),  # emphasis is markup, closed or not
        ("Line<br>break", "Line break"),
        ('<a href="https://x.example/">Linked</a> story', "Linked story"),
        ("<span class=x>Styled</span>", "Styled"),
        ("Use <T> or <U/> here", "Use <T> or here"),  # <U/> closes itself: markup
        ("if a<b and c>d", "if a<b and c>d"),  # no attribute, never closed: words
        ("Mail <ed@x.example> &lt;3", "Mail <ed@x.example> <3"),
        ("The <blink> and </blink> pair", "The and pair"),  # closed: markup
        ("<p>One</p><p>Two</p>", "One Two"),
        ("Plain &amp; simple", "Plain & simple"),
        ("<script>alert(1)</script>Title", "Title"),
        ("", None),
    ],
)
def test_undeclared_titles_lose_markup_not_mentions(title: str, text: str | None) -> None:
    assert loose_html_to_text(title) == text
