"""Tests of ``bot.extract.extract`` and ``summarize``: golden pages, metadata, non-articles.

Golden pages live in ``tests/data/pages/``: ``NAME.html`` beside ``NAME.expected.json``
with the headline, the article's paragraphs in order, the lines the page may
add or leave out without being wrong (``optional``: the standfirst, a subheading),
and strings that must not be in the text (other stories' headlines and teasers,
navigation, footer, reader comments).
"""

from __future__ import annotations

import json
import textwrap
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
import trafilatura

from bot.errors import ExtractError, NotAnArticleError
from bot.extract import extract, reading_minutes, split_sentences, summarize, word_count

PAGES = Path(__file__).parent / "data" / "pages"
GOLDEN = sorted(p.name.removesuffix(".html") for p in PAGES.glob("*.html"))
ARTICLE_URL = "https://www.harbourgazette.example/news/2025/03/riverside-park-approved?utm_source=newsletter"


def load(name: str) -> tuple[str, dict]:
    html = (PAGES / f"{name}.html").read_text(encoding="utf-8")
    expected = json.loads((PAGES / f"{name}.expected.json").read_text(encoding="utf-8"))
    return html, expected


def paragraphs(text: str) -> list[str]:
    return text.split("\n\n")


# --- the "latest posts" problem ------------------------------------------------------


def test_golden_pages_present() -> None:
    assert {"latest-semantic", "latest-plain-divs", "latest-before-article", "read-more-inline"} <= set(
        GOLDEN
    )


@pytest.mark.parametrize("name", GOLDEN)
def test_golden_page_gives_the_article_alone(name: str) -> None:
    html, expected = load(name)
    article = extract(html, expected["url"])

    assert article.title == expected["title"]
    got = [p for p in paragraphs(article.text) if p not in expected["optional"]]
    assert got == expected["paragraphs"]
    for fragment in expected["absent"]:
        assert fragment not in article.text, fragment


@pytest.mark.parametrize("name", ["latest-plain-divs", "read-more-inline"])
def test_golden_page_is_hard_for_trafilatura_defaults(name: str) -> None:
    """The plain-div pages are worth testing: trafilatura alone lets teasers through."""
    html, expected = load(name)
    text = trafilatura.extract(html, url=expected["url"]) or ""
    leaked = [fragment for fragment in expected["absent"] if fragment in text]
    assert leaked


ARTICLE_PARAGRAPHS = [
    "The regional parliament passed the water bill on Thursday after a debate that lasted nine hours. "
    "The law sets a cap on how much groundwater farms may pump during a drought.",
    "Farmers' unions said the cap would cost them a third of their harvest in dry years, "
    "while environmental groups called it the first serious attempt to protect the aquifer.",
    "The cap takes effect in June. Inspectors will read the meters of the 4,000 largest wells every month, "
    "and fines will rise with each month a farm stays above its limit.",
]


def page(body: str, head: str = "<title>Water bill passes</title>") -> str:
    return f"<!DOCTYPE html><html lang='en'><head>{head}</head><body>{body}</body></html>"


def article_div(css_class: str = "c1") -> str:
    inner = "".join(f"<p>{p}</p>" for p in ARTICLE_PARAGRAPHS)
    return f"<div class='{css_class}'><h1>Water bill passes</h1>{inner}</div>"


def cards(n: int) -> str:
    return "".join(
        f"<div class='c3'><h4><a href='/story-{i}'>Another story headline number {i} here</a></h4>"
        f"<p>A teaser for story {i}, a sentence long, written to make readers click on it.</p></div>"
        for i in range(n)
    )


def test_unheaded_row_of_teaser_cards_is_removed() -> None:
    html = page(f"<div class='c0'>{article_div()}<div class='c2'>{cards(4)}</div></div>")

    article = extract(html, "https://example.com/water")

    assert paragraphs(article.text) == ARTICLE_PARAGRAPHS
    assert "teaser" not in article.text


def test_two_teaser_cards_without_heading_are_left_to_trafilatura() -> None:
    """Fewer than three unheaded cards are no pattern: the rule does not fire on them."""
    html = page(f"<div class='c0'>{article_div()}<div class='c2'>{cards(2)}</div></div>")

    article = extract(html, "https://example.com/water")

    assert paragraphs(article.text)[:3] == ARTICLE_PARAGRAPHS


def test_article_paragraphs_with_links_are_kept() -> None:
    linked = (
        "<p>The bill follows <a href='/a'>last year's drought</a>, <a href='/b'>the court ruling</a> "
        "on well permits and <a href='/c'>a report by the water agency</a>, which found the aquifer "
        "had dropped by two metres in a decade.</p>"
    )
    body = article_div().replace("</div>", linked + "</div>")
    article = extract(page(body), "https://example.com/water")

    assert paragraphs(article.text)[-1].startswith("The bill follows last year's drought, the court ruling")


def test_article_subheading_like_a_teaser_heading_is_kept_with_the_prose_after_it() -> None:
    """A "Read more" heading followed by prose (no links) is the article's own subheading."""
    # (trafilatura keeps subheadings only inside a container it recognises as the article.)
    body = article_div("article-body").replace(
        "</div>", "<h2>Read more</h2><p>" + ARTICLE_PARAGRAPHS[0].replace("Thursday", "Friday") + "</p></div>"
    )
    article = extract(page(body), "https://example.com/water")

    assert paragraphs(article.text)[-2:] == ["Read more", ARTICLE_PARAGRAPHS[0].replace("Thursday", "Friday")]


def test_article_subheading_like_a_teaser_heading_keeps_linked_prose_after_it() -> None:
    """Paragraphs with an inline link are prose, not teasers, even after "More on ..."."""
    linked = [
        f"<p>{p[:60]}<a href='/source-{i}'>a source</a>{p[60:]}</p>" for i, p in enumerate(ARTICLE_PARAGRAPHS)
    ]
    body = article_div("article-body").replace(
        "</div>", "<h2>More on the drought</h2>" + "".join(linked) + "</div>"
    )
    article = extract(page(body), "https://example.com/water")

    lines = paragraphs(article.text)
    assert "More on the drought" in lines
    assert lines[-1].endswith(ARTICLE_PARAGRAPHS[-1][60:])
    assert len(lines) == 2 * len(ARTICLE_PARAGRAPHS) + 1


# --- metadata ------------------------------------------------------------------------


def test_metadata_of_golden_page() -> None:
    html, expected = load("latest-semantic")
    article = extract(html, expected["url"])

    assert article.url == expected["url"]
    assert article.title == expected["title"]
    assert article.author == "Lena Okafor"
    assert article.published == datetime(2025, 3, 4, 20, 15, tzinfo=UTC)
    assert article.published.utcoffset() == timedelta(hours=1)
    assert article.site_name == "The Harbour Gazette"
    assert article.description.startswith("The 12-hectare park will replace a disused rail yard")
    assert article.image_url == "https://www.harbourgazette.example/images/2025/03/rail-yard-aerial.jpg"
    assert article.language == "en"
    # From <link rel=canonical> (it keeps ref=home), tracking parameters removed.
    assert (
        article.canonical_url
        == "https://www.harbourgazette.example/news/2025/03/riverside-park-approved?ref=home"
    )
    assert article.word_count == word_count(article.text)
    assert 300 < article.word_count < 400
    assert article.reading_minutes == 2


def test_metadata_fallbacks_without_open_graph() -> None:
    head = (
        "<title>Water bill passes</title>"
        '<script type="application/ld+json">{"@context": "https://schema.org", "@type": "NewsArticle",'
        ' "headline": "Water bill passes", "datePublished": "2024-06-01T08:30:00Z",'
        ' "author": {"@type": "Person", "name": "Sam Reyes"}}</script>'
    )
    url = "https://news.example.org/2024/water-bill?utm_source=rss&id=7#top"

    article = extract(page(article_div(), head), url)

    assert article.title == "Water bill passes"
    assert article.author == "Sam Reyes"
    assert article.published == datetime(2024, 6, 1, 8, 30, tzinfo=UTC)
    assert article.published.tzinfo is not None
    assert article.site_name == "news.example.org"
    assert article.canonical_url == "https://news.example.org/2024/water-bill?id=7"
    assert article.image_url is None


@pytest.mark.parametrize(
    "declaration",
    [
        '<link rel="canonical" href="https://www.bbc.co.uk/news/world-12345678">',
        '<meta property="og:url" content="https://www.bbc.co.uk/news/world-12345678">',
        '<link rel="canonical" href="//www.bbc.co.uk/news/world-12345678">',
    ],
)
def test_canonical_url_on_another_site_is_ignored(declaration: str) -> None:
    """Any page may name any URL as its canonical one: it speaks only for its own site."""
    head = f"<title>Water bill passes</title>{declaration}"

    article = extract(page(article_div(), head), "https://evil.example.com/page?utm_source=x")

    assert article.canonical_url == "https://evil.example.com/page"


def test_canonical_url_on_the_same_site_is_kept() -> None:
    head = '<title>Water bill passes</title><link rel="canonical" href="https://www.bbc.co.uk/news/w-1">'

    article = extract(page(article_div(), head), "https://m.bbc.co.uk/news/w-1?at_medium=RSS")

    assert article.canonical_url == "https://www.bbc.co.uk/news/w-1"


def test_date_without_time_is_noon_utc() -> None:
    head = '<title>Water bill passes</title><meta name="date" content="2023-11-05">'

    article = extract(page(article_div(), head), "https://example.com/water")

    # Aware like every Article date, and the same calendar day for readers from UTC-11 to UTC+11.
    assert article.published == datetime(2023, 11, 5, 12, tzinfo=UTC)


def test_time_without_zone_is_taken_as_utc() -> None:
    head = '<meta property="article:published_time" content="2024-03-01T09:15:00">'

    article = extract(page(article_div(), head), "https://example.com/water")

    assert article.published == datetime(2024, 3, 1, 9, 15, tzinfo=UTC)


def test_offset_in_meta_time_is_kept() -> None:
    head = '<meta property="article:published_time" content="2024-02-29T23:30:00-05:00">'

    article = extract(page(article_div(), head), "https://example.com/water")

    assert article.published == datetime(2024, 2, 29, 23, 30, tzinfo=timezone(timedelta(hours=-5)))


def test_extract_without_url() -> None:
    article = extract(page(article_div()))

    assert article.url is None
    assert article.canonical_url is None
    assert paragraphs(article.text) == ARTICLE_PARAGRAPHS


# --- short and hard-wrapped articles ------------------------------------------------------

BRIEF = [
    "The regional water authority said on Monday that reservoir levels had risen to their "
    "highest point since the spring, ending three months of shortages.",
    "Officials credited two weeks of steady rain across the hills north of the city and "
    "lower demand from farms after the harvest.",
    "Restrictions on garden hoses will be lifted from Friday, the authority said, though it "
    "asked residents to keep saving water where they can.",
    "A review of the summer shortages, ordered by the regional council in August, is due to be "
    "published before the end of the year.",
]


def wrapped(paragraph: str, separator: str = "<br>\n", width: int = 40) -> str:
    """``paragraph`` broken into lines of at most ``width`` characters, as some sites send it."""
    return separator.join(textwrap.wrap(paragraph, width))


def brief_page(body: str) -> str:
    return page(
        f"<article><h1>Reservoirs refill after rain</h1>{body}</article>", "<title>Reservoirs refill</title>"
    )


@pytest.mark.parametrize(
    "body",
    [
        pytest.param("".join(f"<p>{wrapped(p)}</p>" for p in BRIEF), id="br-in-paragraphs"),
        pytest.param("<div>" + "<br><br>".join(wrapped(p) for p in BRIEF) + "</div>", id="br-br-between"),
        pytest.param("<p>" + "<br>".join(wrapped(p) for p in BRIEF) + "</p>", id="one-paragraph"),
        pytest.param("<pre>" + "\n\n".join(wrapped(p, "\n") for p in BRIEF) + "</pre>", id="pre"),
    ],
)
def test_hard_wrapped_brief_is_an_article_in_whole_paragraphs(body: str) -> None:
    """Lines broken inside sentences are joined back into paragraphs, not judged as a menu."""
    html = brief_page(body)
    assert 540 <= len(" ".join(BRIEF)) <= 580
    assert trafilatura.extract(html)  # trafilatura alone finds the text too

    article = extract(html, "https://news.example/reservoirs")

    assert paragraphs(article.text) == BRIEF
    assert article.title == "Reservoirs refill after rain"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param("".join(f"<p>{wrapped(p, width=30)}</p>" for p in BRIEF[2:]), BRIEF[2:], id="wrapped"),
        pytest.param(
            "<p>Harbour City's mayor resigned on Tuesday night.</p><p>An election follows in March.</p>",
            ["Harbour City's mayor resigned on Tuesday night.", "An election follows in March."],
            id="two-sentences",
        ),
    ],
)
def test_two_paragraph_brief_is_an_article(body: str, expected: list[str]) -> None:
    article = extract(brief_page(body), "https://news.example/brief")

    assert paragraphs(article.text)[-2:] == expected


@pytest.mark.parametrize("width", [30, 40, 72])
@pytest.mark.parametrize(
    "shape",
    [
        # trafilatura makes a paragraph of each line of these: the break must be marked in the page.
        pytest.param("{}", id="br-in-article-text"),
        pytest.param("<font face='arial'>{}</font>", id="br-in-font"),
        pytest.param("<span>{}</span>", id="br-in-span"),
    ],
)
def test_two_paragraph_brief_wrapped_outside_any_paragraph_is_an_article(shape: str, width: int) -> None:
    brief = BRIEF[:2]
    body = shape.format("<br><br>".join(wrapped(p, "<br>", width) for p in brief))

    article = extract(brief_page(body), "https://news.example/brief")

    assert paragraphs(article.text)[-2:] == brief


def test_two_paragraph_brief_with_newlines_in_its_text_is_an_article() -> None:
    # A browser shows a text's newlines as spaces: a page may wrap its text so in the source.
    body = "<div>" + "\n\n".join(wrapped(p, "\n") for p in BRIEF[:2]) + "</div>"

    article = extract(brief_page(body), "https://news.example/brief")

    assert paragraphs(article.text)[-2:] == BRIEF[:2]


@pytest.mark.parametrize(
    "body",
    [
        # A list of headlines, links or not, one per line outside any paragraph.
        "<br>".join(f"Headline number {i} about the city council and its budget" for i in range(12)),
        "<br>".join(f"<a href='/n{i}'>Headline number {i} about the city council</a>" for i in range(12))
        + "<br>More stories tomorrow.",
        "<div>" + "\n".join(f"Headline number {i} about the city council" for i in range(12)) + "</div>",
    ],
)
def test_lines_of_headlines_outside_a_paragraph_are_still_not_an_article(body: str) -> None:
    with pytest.raises(NotAnArticleError):
        extract(page(f"<article><h1>Latest news</h1>{body}</article>"), "https://example.com/latest")


@pytest.mark.parametrize("written", ["\U0001d159", "&#119129;", "&#x1D159;"])
def test_a_page_using_the_soft_break_mark_itself_is_read_as_it_is(written: str) -> None:
    mark = "\U0001d159"
    body = f"<p>{written} A note on the score.</p>" + "".join(f"<p>{p}</p>" for p in BRIEF)

    article = extract(brief_page(body), "https://news.example/brief")

    assert paragraphs(article.text)[-4:] == BRIEF
    assert mark in article.text


@pytest.mark.parametrize(
    "brief",
    [
        ["Drones are forbidden over the stadium on Sunday.", "Police will enforce the ban."],
        ["Residents aged 18 or older may vote on Sunday.", "Polls open at 8am."],
        ["Expect unusual traffic on the M25 tonight.", "A security check slows the tunnel."],
    ],
)
def test_a_brief_using_words_of_notices_is_an_article(brief: list[str]) -> None:
    article = extract(brief_page("".join(f"<p>{p}</p>" for p in brief)), "https://news.example/brief")

    assert paragraphs(article.text)[-2:] == brief


def test_wrapped_lines_without_a_sentence_are_not_joined_into_prose() -> None:
    """A list of headlines in one block, one per line, stays a list: not an article."""
    headlines = "<br>\n".join(f"Headline number {i} about the city council and its budget" for i in range(12))
    html = page(f"<article><h1>Latest news</h1><p>{headlines}</p></article>")

    with pytest.raises(NotAnArticleError):
        extract(html, "https://example.com/latest")


@pytest.mark.parametrize(
    "notice",
    [
        "<p>This site needs JavaScript to work.</p>"
        "<p>Please enable it in your browser and reload the page.</p>",
        "<h1>Subscribers only</h1><p>Sign in to keep reading this story.</p>"
        "<p>New here? Create a free account today.</p>",
        "<p>We use cookies to give you the best experience.</p>"
        "<p>By continuing you agree to our use of cookies.</p>",
        "<h1>Oops</h1><p>Sorry, the page you asked for was not found.</p>"
        "<p>It may have moved or been deleted.</p>",
        "<p>Enable<br>JavaScript<br>to<br>continue.</p><p>Or use<br>another<br>browser.</p>",
        # Error pages, bot walls and age gates are written in many ways.
        "<h1>Page not found</h1><p>Sorry, the page you are looking for could not be found.</p>"
        "<p>Try searching our site.</p>",
        "<p>Sorry, this story cannot be found on our site.</p><p>Please go back to the home page.</p>",
        "<p>This story is no longer online.</p><p>It was removed at the request of its author.</p>",
        "<h1>Just a moment...</h1><p>Please verify you are a human.</p>"
        "<p>Complete the security check to access the site.</p>",
        "<p>We have detected unusual traffic from your network.</p><p>Are you a robot? Tell us below.</p>",
        "<p>You must be 18 or older to view this content.</p><p>Please confirm your date of birth.</p>",
        "<h1>403 Forbidden</h1><p>You don't have permission to access this page.</p><p>Go back.</p>",
        "<p>Error 429: too many requests.</p><p>Please wait a few minutes before you retry.</p>",
        "<p>This content isn't available in your country.</p><p>We apologise for the trouble.</p>",
    ],
)
def test_short_notices_are_not_articles(notice: str) -> None:
    with pytest.raises(NotAnArticleError):
        extract(page(f"<div id='root'>{notice}</div>"), "https://example.com/story")


# --- non-articles ----------------------------------------------------------------------


@pytest.mark.parametrize("html", ["", "   \n", "<html></html>", page("")])
def test_empty_page_is_not_an_article(html: str) -> None:
    with pytest.raises(NotAnArticleError):
        extract(html, "https://example.com/")


def test_index_page_is_not_an_article() -> None:
    items = "".join(
        f"<li><a href='/n{i}'>Headline number {i} about something that happened today in the city</a></li>"
        for i in range(15)
    )
    html = page(f"<nav><a href='/'>Home</a> <a href='/w'>World</a></nav><h1>News</h1><ul>{items}</ul>")

    with pytest.raises(NotAnArticleError):
        extract(html, "https://example.com/news")


def test_login_wall_is_not_an_article() -> None:
    html = page(
        "<h1>Sign in</h1><form><label>Email</label><input type='email' name='email'>"
        "<label>Password</label><input type='password' name='pw'><button>Sign in</button></form>"
        "<p><a href='/forgot'>Forgot your password?</a></p>"
    )
    with pytest.raises(NotAnArticleError):
        extract(html, "https://example.com/login")


def test_javascript_shell_is_not_an_article() -> None:
    html = page("<div id='root'></div><noscript>You need to enable JavaScript to run this app.</noscript>")

    with pytest.raises(NotAnArticleError) as info:
        extract(html, "https://example.com/app")
    assert isinstance(info.value, ExtractError)
    assert str(info.value)  # a message fit for the user


def test_reader_comments_are_not_article_text() -> None:
    html, expected = load("with-comments")
    article = extract(html, expected["url"])

    assert "I have walked past that fence" in html
    assert "walked past that fence" not in article.text
    assert "Leave a comment" not in article.text
    assert paragraphs(article.text)[-1] == expected["paragraphs"][-1]


# --- summary, sentences, counts --------------------------------------------------------


def test_summary_of_golden_page_is_extractive_and_short() -> None:
    html, expected = load("latest-plain-divs")
    article = extract(html, expected["url"])

    sentences = split_sentences(article.summary)
    assert 2 <= len(sentences) <= 3
    assert len(article.summary) <= 500
    for sentence in sentences:
        assert sentence in article.text
    # News is written lead first.
    assert sentences[0] == split_sentences(article.text)[0]


def test_summary_keeps_original_order_and_limit() -> None:
    text = "\n\n".join(ARTICLE_PARAGRAPHS)

    summary = summarize(text, max_sentences=2, max_chars=300)

    sentences = split_sentences(summary)
    assert len(sentences) == 2
    assert len(summary) <= 300
    positions = [text.index(s) for s in sentences]
    assert positions == sorted(positions)


def test_summary_of_text_without_sentences_is_truncated() -> None:
    text = "word " * 400

    summary = summarize(text, max_chars=100)

    assert len(summary) <= 100
    assert summary.endswith("…")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Mr. Smith met Dr. Jones at 10 a.m. on Monday. They talked.",
            ["Mr. Smith met Dr. Jones at 10 a.m. on Monday.", "They talked."],
        ),
        (
            "The U.S. economy grew 3.5% last year. Exports rose.",
            ["The U.S. economy grew 3.5% last year.", "Exports rose."],
        ),
        (
            "Prices rose sharply in the U.S. The Fed is worried.",
            ["Prices rose sharply in the U.S.", "The Fed is worried."],
        ),
        ("J. K. Rowling wrote it. Gov. Newsom agreed.", ["J. K. Rowling wrote it.", "Gov. Newsom agreed."]),
        ("“Stop!” she said. He did.", ["“Stop!” she said.", "He did."]),
        ("He asked: “Why?” Nobody knew.", ["He asked: “Why?”", "Nobody knew."]),
        ("東京で会議が開かれた。首相が出席した。", ["東京で会議が開かれた。", "首相が出席した。"]),
    ],
)
def test_split_sentences(text: str, expected: list[str]) -> None:
    assert split_sentences(text) == expected


def test_counts_for_cjk_text() -> None:
    japanese = "日本の経済は昨年成長した。" * 100  # 1,200 characters

    assert word_count(japanese) == 1200
    # About 500 characters a minute, not 1,200 "words" at 230 a minute.
    assert reading_minutes(japanese) == 3


def test_counts_for_alphabetic_text() -> None:
    assert word_count("It's the U.S. economy, 3.5 times larger.") == 7
    assert reading_minutes("") == 1
    assert reading_minutes("word " * 460) == 2
    assert reading_minutes("word " * 461) == 3


# --- subheadings on pages without an article container -------------------------------

SECTIONED = [
    ARTICLE_PARAGRAPHS[0],
    "What changes for farms",
    ARTICLE_PARAGRAPHS[1],
    "Who checks the meters",
    "Fines",
    ARTICLE_PARAGRAPHS[2],
]


def sectioned_html() -> str:
    return "<h1>Water bill passes</h1>" + "".join(
        f"<p>{line}</p>"
        if line in ARTICLE_PARAGRAPHS
        else f"<h{2 + (line == 'Fines')}>{line}</h{2 + (line == 'Fines')}>"
        for line in SECTIONED
    )


@pytest.mark.parametrize(
    "wrap",
    [
        pytest.param(lambda inner: inner, id="straight-in-body"),
        pytest.param(lambda inner: f"<div>{inner}</div>", id="plain-div"),
        pytest.param(lambda inner: f"<div class='c1'><div class='c2'>{inner}</div></div>", id="neutral-divs"),
        pytest.param(lambda inner: f"<article>{inner}</article>", id="article-container"),
    ],
)
def test_subheadings_stay_in_place_with_or_without_article_container(wrap) -> None:
    """trafilatura keeps subheadings only in a container it recognises; without one they come back."""
    article = extract(page(wrap(sectioned_html())), "https://example.com/water")

    assert paragraphs(article.text) == SECTIONED


def test_headings_next_to_text_that_is_not_the_article_are_left_out() -> None:
    """A heading is put back only between two paragraphs that follow each other in the text."""
    links = "".join(
        f"<li><a href='/story-{i}'>Another story headline number {i} here</a></li>" for i in range(4)
    )
    body = (
        sectioned_html()
        + f"<div class='c4'><h3>In the bay this week</h3><ul>{links}</ul></div>"
        + "<div class='c5'><h4>Follow the Gazette</h4><a href='/rss'>RSS</a> <a href='/x'>X</a></div>"
    )
    article = extract(page(body), "https://example.com/water")

    assert paragraphs(article.text) == SECTIONED


@pytest.mark.parametrize(
    "between",
    [
        pytest.param("<h4>Advertisement</h4><div class='ad'></div>", id="furniture-heading"),
        pytest.param(
            "<h3><a href='/other'>Read also: drought hits the wine harvest</a></h3>", id="linked-headline"
        ),
        pytest.param("<h3>Related coverage</h3>", id="teaser-heading"),
        pytest.param("<h3>Comments (12)</h3>", id="comments-heading"),
    ],
)
def test_page_furniture_heading_between_article_paragraphs_is_left_out(between: str) -> None:
    body = "<h1>Water bill passes</h1>" + "".join(
        f"<p>{p}</p>" + (between if i == 0 else "") for i, p in enumerate(ARTICLE_PARAGRAPHS)
    )
    article = extract(page(body), "https://example.com/water")

    assert paragraphs(article.text) == ARTICLE_PARAGRAPHS
