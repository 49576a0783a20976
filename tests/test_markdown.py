"""Feed HTML as Discord Markdown (bot.feeds.markdown): each rule, hostile input, and a property test.

What Discord makes of the output is read with tests/markdown_view.py (masked links, bold
markers, block markup and pings as Discord's parser takes them, escapes resolved).
"""

from __future__ import annotations

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.discord_text import discord_length, escape_markdown
from bot.feeds._markdown_writer import _escape
from bot.feeds.markdown import (
    MAX_INPUT_CHARS,
    fit_markdown,
    html_to_markdown,
    link_target,
    plain_to_markdown,
)
from tests.markdown_view import block_markup, bold_spans, masked_link_targets, pings, shown

BASE = "https://news.example/feed.xml"


def md(html: str, limit: int = 2_000) -> str:
    return html_to_markdown(html, base=BASE, limit=limit).markdown or ""


# Links


def test_link_with_its_own_text_is_a_masked_link() -> None:
    out = md('Read <a href="https://news.example/a">the full story</a> now.')
    assert out == "Read [the full story](https://news.example/a) now."
    assert masked_link_targets(out) == ["https://news.example/a"]


def test_link_whose_text_is_its_url_is_the_bare_url() -> None:
    out = md(
        'See <a href="https://news.example/a">https://news.example/a</a>. <a href="/b">https://news.example/b</a>then'
    )
    # A space after a bare URL keeps text from running into it; not before "." (Discord leaves it out).
    assert out == "See https://news.example/a. https://news.example/b then"
    assert masked_link_targets(out) == []


def test_link_whose_text_is_another_url_shows_the_real_target() -> None:
    # Discord refuses masked links that look like URLs; and this one would lie about where it goes.
    out = md('<a href="https://evil.example/x">https://bank.example/login</a>')
    assert out == "https://evil.example/x"
    assert "bank.example" not in out


def test_relative_link_resolves_against_the_base() -> None:
    assert masked_link_targets(md('<a href="/2024/story">Story</a>')) == ["https://news.example/2024/story"]


@pytest.mark.parametrize(
    "href", ["javascript:alert(1)", "data:text/html,<b>x</b>", "vbscript:x", "ftp://news.example/f", ""]
)
def test_non_web_link_is_dropped_and_its_text_kept(href: str) -> None:
    out = md(f'Go <a href="{href}">click here</a> please')
    assert out == "Go click here please"
    assert masked_link_targets(out) == []


def test_link_text_is_escaped_and_cannot_break_out_of_the_link() -> None:
    hostile = "x](javascript:alert(1)) **bold** [y"
    out = md(f'<a href="https://news.example/a">{hostile}</a>')
    assert masked_link_targets(out) == ["https://news.example/a"]
    assert bold_spans(out) == 0
    assert shown(out).startswith("[" + hostile)


def test_link_target_with_spaces_and_parentheses_is_percent_encoded() -> None:
    out = md('<a href="https://news.example/a b(1)<x>">Story</a>')
    assert out == "[Story](https://news.example/a%20b%281%29%3Cx%3E)"
    assert masked_link_targets(out) == ["https://news.example/a%20b%281%29%3Cx%3E"]


def test_link_target_never_carries_a_mention() -> None:
    target = link_target("https://news.example/@everyone/@here")
    assert target == "https://news.example/%40everyone/%40here"
    assert link_target("https://" + "a" * 3000) is None


def test_image_only_link_leaves_no_text_and_gives_the_picture() -> None:
    result = html_to_markdown('<a href="https://news.example/a"><img src="/p.jpg"></a>Text', base=BASE)
    assert result.markdown == "Text"
    assert result.image_url == "https://news.example/p.jpg"


# Blocks


def test_paragraphs_and_line_breaks() -> None:
    out = md("<p>One   two\n three</p><p>Second<br>line</p>a<br><br>b")
    assert out == "One two three\n\nSecond\nline\n\na\n\nb"


def test_unordered_ordered_and_nested_lists() -> None:
    out = md("<ul><li>one</li><li>two<ol><li>a</li><li>b</li></ol></li></ul><p>after</p>")
    assert out == "- one\n- two\n  1. a\n  2. b\n\nafter"
    assert block_markup(out) == ["- ", "- ", "  1. ", "  2. "]


def test_blockquote_lines_are_quoted() -> None:
    out = md("<p>She said:</p><blockquote><p>We will</p><p>rebuild.</p></blockquote>Then left.")
    assert out == "She said:\n\n> We will\n> rebuild.\n\nThen left."


def test_bold_italic_and_empty_emphasis() -> None:
    out = md("A <b>bold</b> and <i> spaced </i> and <em></em><strong> </strong>end")
    assert out == "A **bold** and *spaced* and end"
    assert bold_spans(out) == 2


def test_nested_same_style_is_marked_once() -> None:
    assert md("<b>a <strong>b</strong> c</b>") == "**a b c**"


def test_heading_is_a_bold_line() -> None:
    assert md("<h2>Results</h2><p>Text</p>") == "**Results**\n\nText"


def test_bold_across_a_line_break_is_closed_on_each_line() -> None:
    assert md("<b>one<br>two</b>") == "**one**\n**two**"


def test_images_leave_the_text_and_the_first_is_the_picture() -> None:
    result = html_to_markdown(
        'A<img src="data:image/png;base64,xx"><img src="img/1.jpg" alt="[alt]">B<img src="/2.jpg">', base=BASE
    )
    assert result.markdown == "AB"
    assert result.image_url == "https://news.example/img/1.jpg"


def test_scripts_styles_and_iframes_are_dropped() -> None:
    out = md(
        "<script>alert('x')</script><style>p{}</style><iframe src='https://e.example'>fallback</iframe>"
        "<noscript>no</noscript><!-- hidden -->Visible <template>t</template>text"
    )
    assert out == "Visible text"


def test_plain_text_keeps_paragraphs_and_is_escaped() -> None:
    out = md("Fish &amp; chips\n\n# not a heading\n*not italic*")
    assert out == "Fish & chips\n\n\\# not a heading\n\\*not italic\\*"


# What the text says stays text


def test_text_markdown_shows_literally() -> None:
    out = md("<p># Title</p><p>- item</p><p>> quote</p><p>1. one</p><p>**x** __y__ ~~z~~ `c` ||s||</p>")
    assert block_markup(out) == []
    assert bold_spans(out) == 0
    assert shown(out).splitlines()[-1] == "**x** __y__ ~~z~~ `c` ||s||"


@pytest.mark.parametrize(
    "html",
    [
        "@everyone and @here",
        "<p>Role <@&123456789012345678> user <@!42> <@42> channel <#7></p>",
        "@every<b></b>one",
        "@<i>here</i>",
        "&lt;@&amp;123&gt; &#64;everyone",
        '<a href="https://news.example/">@everyone</a>',
    ],
)
def test_mentions_never_ping(html: str) -> None:
    out = md(html)
    assert pings(out) == []
    assert out


# Bounds


def test_fit_cuts_at_a_word_and_never_inside_a_link() -> None:
    out = md("<p>" + "word " * 10 + '<a href="https://x.example/">a link text here</a> more</p>')
    fitted = fit_markdown(out, 70)
    assert fitted == "word word word word word word word word word word a link text…"
    assert masked_link_targets(fitted) == []


def test_fit_closes_bold_it_cuts() -> None:
    fitted = md("<p>" + "word " * 10 + "<b>bold text here more and more</b></p>", limit=70)
    assert fitted == "word word word word word word word word word word **bold text here**…"
    assert bold_spans(fitted) == 2


def test_output_is_within_the_limit_in_utf16_units() -> None:
    out = md("<p>" + "😀 " * 5000 + "</p>", limit=101)
    assert discord_length(out) <= 101
    assert out.endswith("…")


def test_huge_input_is_bounded_in_output_and_time() -> None:
    huge = "<p>" + "<b>bold</b> <a href='https://x.example/'>l</a> text " * 200_000
    assert len(huge) > MAX_INPUT_CHARS
    start = time.process_time()
    out = md(huge, limit=500)
    # Generous: the walk stops at the limit; unbounded it would take many seconds.
    assert time.process_time() - start < 2
    assert discord_length(out) <= 500


@pytest.mark.parametrize(
    "opening",
    ["<div>", "<b><i>", "<ul><li>", "<blockquote>", "<a href='https://x.example/'>", "<span>"],
)
def test_deep_nesting_is_read_without_recursion(opening: str) -> None:
    # Text nested deeper than libxml2 goes (256 levels) is dropped, the rest is kept.
    out = md("<p>before</p>" + opening * 5_000 + "deep" + "</p>" * 5_000)
    assert out.startswith("before")
    assert discord_length(out) <= 2_000
    assert "deep" in md("<p>before</p>" + opening * 100 + "deep")


@pytest.mark.parametrize(
    "html",
    [
        "<p>unclosed <b>bold <i>both",
        "</b></i></a></p>stray closers",
        "<a href='https://x.example/'>open link <p>para</a> tail",
        "<li>orphan item</li>",
        "</ul></blockquote>after",
        "<",
        "< >",
        "<<<>>>",
        "<b",
        "\x00<p>\ud800</p>",
    ],
)
def test_unbalanced_and_broken_markup(html: str) -> None:
    out = md(html)
    assert pings(out) == []
    assert "\x00" not in out
    assert bold_spans(out) % 2 == 0


def test_unclosed_styles_are_closed() -> None:
    assert md("<p>unclosed <b>bold <i>both") == "unclosed **bold *both***"


def test_empty_input() -> None:
    for value in (None, "", "   ", "<p> </p>", "<img src='/x.jpg'>"):
        assert html_to_markdown(value, base=BASE).markdown is None


# Property

_HREFS = [
    "https://news.example/a",
    "/relative(1)",
    "javascript:alert(1)",
    "https://news.example/a b",
    "data:x",
    "https://news.example/@everyone",
]
_TAGS = st.sampled_from(
    [f'<a href="{h}">' for h in _HREFS]
    + ["</a>", "<b>", "</b>", "<i>", "</i>", "<p>", "</p>", "<br>", "<ul>", "<ol>", "<li>", "</li>"]
    + ["</ul>", "<blockquote>", "</blockquote>", "<h1>", "</h1>", "<img src='/i.png'>", "<script>"]
)
_HOSTILE = st.sampled_from(
    ["[t](https://evil.example/x)", "](https://evil.example/x)", "[", "]", "(", ")", "*", "**", "_"]  # noqa: RUF005
    + ["`", "\\", "|", "~", "#", "> ", "- ", "1. ", "\n", "@everyone", "@here", "<@&12345>", "<@1>"]
    + ["@", "&amp;", "&lt;", "&#64;", "<", ">", " ", "😀", "https://evil.example/x", "every", "one"]
)
_PIECES = st.one_of(_TAGS, _HOSTILE, st.text(max_size=8))


@settings(max_examples=300, deadline=None)
@given(st.lists(_PIECES, max_size=60), st.integers(min_value=20, max_value=600))
def test_property_any_html_is_bounded_safe_and_links_only_where_written(
    pieces: list[str], limit: int
) -> None:
    html = "".join(pieces)
    result = html_to_markdown(html, base=BASE, limit=limit)
    out = result.markdown or ""
    assert discord_length(out) <= limit
    assert pings(out) == []
    # Every masked link is one the HTML made, to an http(s) target it named; none comes from text.
    allowed = {link_target(h, BASE) for h in _HREFS} - {None}
    assert set(masked_link_targets(out)) <= allowed
    assert len(masked_link_targets(out)) <= html.count("<a ")
    assert result.image_url in (None, "https://news.example/i.png")


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=40))
def test_text_escape_is_escape_markdown(text: str) -> None:
    # The converter escapes text pieces itself (line starts apart); it must agree with the rule
    # every other message uses.
    piece = "x" + " ".join(text.split())  # as the converter has it: one line, not at its start
    assert _escape(piece) == escape_markdown(piece)


def test_article_text_keeps_paragraphs_escaped_and_bounded() -> None:
    text = "First *para* @everyone.\n\n- not a list\n\n" + "word " * 500
    out = plain_to_markdown(text, 300) or ""
    assert out.startswith("First \\*para\\* @\u200beveryone.\n\n\\- not a list\n\nword word")
    assert discord_length(out) <= 300
    assert pings(out) == [] and block_markup(out) == []
