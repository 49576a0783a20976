"""``extract``: an HTML page in, an :class:`~bot.types.Article` out. Pure, synchronous, no network."""

from __future__ import annotations

import re
from typing import Any

import trafilatura
from lxml.html import HtmlElement
from trafilatura.settings import Document

from bot.errors import ExtractError, NotAnArticleError
from bot.extract import _load, _meta
from bot.extract._boilerplate import image_alts, without_furniture
from bot.extract._clean import remove_teaser_blocks
from bot.extract._headings import with_subheadings
from bot.extract._summary import split_sentences, summarize
from bot.extract._text import count_words, minutes_for
from bot.extract._wrap import SENTENCE_END, article_text, mark_page, page_uses_mark, unmark_page
from bot.types import Article

# Settings chosen by measurement on the article-extraction benchmark (bench/extract_quality.py):
# reader comments are not the article; trafilatura's own extractor alone ("fast") scores
# higher than with its readability/jusText fallbacks, which are kept for the pages where it
# returns navigation (see _looks_like_navigation).
_TRAFILATURA_OPTIONS: dict[str, Any] = {
    "include_comments": False,
    "include_tables": True,
    "include_images": False,
    "include_links": False,
}
_EMPTY = "The page is empty."
# Text whose words mostly sit in lines this short is menus and link lists, not prose.
_SHORT_LINE_WORDS = 4
_MAX_SHORT_LINE_SHARE = 0.5
# "By Jane Doe", "By Jane Doe and John Roe, 4 March 2025", near the top.
_BYLINE = re.compile(
    r"^By\s+(?:[A-Z][\w'’.-]*\s*){1,4}(?:(?:,|and|&)\s*(?:[A-Z][\w'’.-]*\s*){1,4})*[,|·–-]?[^.!?]{0,40}$"
)
_BYLINE_SEARCH_LINES = 3
# The headline is one of the first lines, shares most of its words with the page's title.
_HEADLINE_SEARCH_LINES = 2
_MAX_HEADLINE_WORDS = 30
_HEADING_TAGS = ("h1", "h2", "h3", "h4", "h5", "h6")
# Headline, standfirst and a kicker at most.
_MAX_LEADING_HEADINGS = 3
_MIN_STANDFIRST_WORDS = 8
# Chinese and Japanese words are a few characters long.
_CJK_CHARS_PER_WORD = 3
_HEADLINE_OVERLAP = 0.75
# An article has at least this many words in lines that read like prose: index pages
# (headlines), login walls and "enable JavaScript" notices do not.
_MIN_PROSE_WORDS = 20
_LONG_LINE_WORDS = 25
# ... or, for a news brief, at least two sentences of prose this long in all, when its text
# reads like none of the notices a page shows instead of an article.
_MIN_BRIEF_WORDS = 10
_MIN_BRIEF_SENTENCES = 2
_NOTICE = re.compile(
    r"\b(?:javascript|cookies?|browser|ad ?blocker|captcha|log ?in|sign(?:ed)? ?(?:in|up)|password"
    r"|subscri(?:be|bers?|ption)|paywall|access denied|not found|try again"
    r"|(?:un|not |is ?n[o']?t |are ?n[o']?t )available"
    r"|copyright|rights reserved|privacy"
    # Error pages, bot walls, age and country gates (each phrase rare in a real brief).
    r"|(?:could|can)(?:n[o']?t| ?not)? be found|can't be found|does(?:n[o']?t| not) exist"
    r"|no longer (?:online|available|exists?|accessible)|permission to (?:access|view)"
    r"|error \d{3}|too many requests|unusual traffic from your|complete the security check"
    r"|(?:verify|confirm|prove) (?:that )?you(?:'re| are) (?:a )?human|are you a (?:robot|human)"
    r"|not a robot|must be (?:18|21) (?:years )?(?:or|and) (?:older|over)"
    r"|(?:confirm|enter) your date of birth|age verification)\b",
    re.IGNORECASE,
)


def extract(html: str, url: str | None = None) -> Article:
    """The article in ``html``, fetched from ``url`` (used for the canonical URL and relative links).

    Raises :class:`NotAnArticleError` when the page has no article text, and
    :class:`ExtractError` when the page cannot be parsed at all.
    """
    if not html or not html.strip():
        raise NotAnArticleError(_EMPTY)
    return _extract_utf8(_load.encode(html), url)


def extract_utf8(page: bytes, url: str | None = None) -> Article:
    """:func:`extract` of a page encoded by :func:`bot.extract._load.encode`, not decoded again.

    The pool's workers receive pages so: decoding and encoding again would cost
    them a few tenths of a millisecond per page.
    """
    if _load.is_blank(page):
        raise NotAnArticleError(_EMPTY)
    return _extract_utf8(page, url)


def _extract_utf8(page: bytes, url: str | None) -> Article:
    try:
        tree = _load.parse_utf8(page)
    except (ValueError, TypeError) as e:
        raise ExtractError("The page could not be read as HTML.") from e
    if tree is None:
        raise NotAnArticleError("The page could not be read as HTML.")
    return article_from_tree(tree, url, uses_mark=page_uses_mark(page))


def article_from_tree(tree: HtmlElement, url: str | None, *, uses_mark: bool | None = None) -> Article:
    """:func:`extract` on a parsed page; ``tree`` is modified. ``uses_mark``: see
    :func:`bot.extract._wrap.mark_page`."""
    try:
        metadata = _meta.trafilatura_metadata(tree, url)
    except Exception as e:  # trafilatura's failures have no common base
        raise ExtractError("The page's metadata could not be read.") from e
    page_published = _meta.published_time(tree)
    declared_canonical = _meta.declared_canonical(tree)
    page_language = _meta.language(tree)
    remove_teaser_blocks(tree)
    alts = image_alts(tree)
    raw_text = _main_text(tree, url, uses_mark)
    title = _clean_line(metadata.title)
    lines = _lines(raw_text)
    headline = _headline_index(lines, title)
    if headline is not None:
        # The page's own headline is the title without the site's name glued to it,
        # and it is the article's title, not its text.
        title = lines.pop(headline)
    _drop_leading_headings(lines, tree)
    # After the headline and byline are taken out: neither is a subheading's neighbour.
    paragraphs = with_subheadings(without_furniture(_paragraphs(lines), alts, tree), tree)
    # (words, CJK characters) per paragraph; the text's are their sums.
    counts = [count_words(paragraph) for paragraph in paragraphs]
    if not _has_prose(paragraphs, counts):
        raise NotAnArticleError("The page has no article text.")
    text = "\n\n".join(paragraphs)
    words, cjk = sum(w for w, _ in counts), sum(c for _, c in counts)
    return Article(
        url=url,
        canonical_url=_meta.canonical(url, declared_canonical or metadata.url),
        title=title,
        author=_clean_line(metadata.author),
        published=page_published or _meta.date_only(metadata.date),
        site_name=_clean_line(metadata.sitename) or _meta.host_name(url or metadata.url),
        description=_clean_line(metadata.description),
        image_url=_meta.absolute(metadata.image, url or metadata.url),
        language=page_language,
        text=text,
        word_count=words + cjk,
        reading_minutes=minutes_for(words, cjk),
        summary=summarize(text),
    )


def _main_text(tree: HtmlElement, url: str | None, uses_mark: bool | None) -> str:
    """The article text by trafilatura's own extractor, else with its fallbacks."""
    marks = mark_page(tree, uses_mark=uses_mark)
    try:
        text = _trafilatura_text(tree, url, fast=True, marked=marks is not None)
        if not text or _looks_like_navigation(text):
            text = _trafilatura_text(tree, url, fast=False, marked=marks is not None) or text
    finally:
        if marks:  # the rest reads the page as it was
            unmark_page(marks)
    return text


def _trafilatura_text(tree: HtmlElement, url: str | None, *, fast: bool, marked: bool) -> str:
    try:
        # bare_extraction copies the tree before cleaning it, so it can be called twice.
        document = trafilatura.bare_extraction(tree, url=url, fast=fast, **_TRAFILATURA_OPTIONS)
    except Exception as e:  # trafilatura's failures have no common base
        raise ExtractError("The article could not be extracted from the page.") from e
    if not isinstance(document, Document):
        return ""
    return article_text(document.body, document.text or "", page_marked=marked)


def _looks_like_navigation(text: str) -> bool:
    words = short = 0
    for line in text.splitlines():
        n = len(line.split())
        words += n
        if n <= _SHORT_LINE_WORDS:
            short += n
    return words > 0 and short > _MAX_SHORT_LINE_SHARE * words


def _lines(raw: str) -> list[str]:
    lines = [" ".join(line.split()) for line in raw.splitlines()]
    return [line for line in lines if line]


def _headline_index(lines: list[str], title: str | None) -> int | None:
    """Which of the first lines, if any, is the headline: nearly the title's words."""
    if not title:
        return None
    title_words = _words(title)
    for index, line in enumerate(lines[:_HEADLINE_SEARCH_LINES]):
        line_words = _words(line)
        if not line_words or len(line_words) > _MAX_HEADLINE_WORDS:
            continue
        # The title may carry the site's name ("Headline | The Gazette") or a section.
        if len(line_words & title_words) >= _HEADLINE_OVERLAP * len(line_words | title_words) or (
            line_words <= title_words and len(line_words) >= _HEADLINE_OVERLAP * len(title_words) - 3
        ):
            return index
    return None


def _drop_leading_headings(lines: list[str], tree: HtmlElement) -> None:
    """Take out the lines before the first paragraph that are headings of the page's top.

    Above the article's first paragraph, a heading that is an ``h1`` (the headline worded
    unlike the page's title), that comes before the ``h1`` (a kicker, a section's name) or
    that is a sentence (the standfirst set as a sub-heading) is not the article's text (the
    standfirst is its ``description``). A short heading after the ``h1`` is the article's
    first section title and stays.
    """
    if not lines:
        return
    candidates = set(lines[:_MAX_LEADING_HEADINGS])
    top: set[str] = set()
    later: set[str] = set()  # kickers, if an h1 comes after them
    seen_h1 = False
    for heading in tree.iter(*_HEADING_TAGS):
        is_h1 = heading.tag == "h1"
        if is_h1:
            seen_h1 = True
            top |= later
            later.clear()
        text = " ".join(heading.text_content().split())
        if text not in candidates:
            continue
        words, cjk = count_words(text)
        if is_h1 or words + cjk / _CJK_CHARS_PER_WORD >= _MIN_STANDFIRST_WORDS:
            top.add(text)
        elif not seen_h1:
            later.add(text)
    for _ in range(_MAX_LEADING_HEADINGS):
        if not lines or lines[0] not in top:
            return
        lines.pop(0)


def _paragraphs(lines: list[str]) -> list[str]:
    """The lines that are paragraphs: not a byline, which is the author, not text."""
    return [line for i, line in enumerate(lines) if not (i < _BYLINE_SEARCH_LINES and _BYLINE.match(line))]


def _words(text: str) -> set[str]:
    return set(re.findall(r"\w+", text.casefold()))


def _has_prose(paragraphs: list[str], counts: list[tuple[int, int]]) -> bool:
    """Whether the paragraphs have sentences, not just headlines, menu items or a short notice."""
    prose: list[str] = []
    prose_words = 0
    for paragraph, (words, cjk) in zip(paragraphs, counts, strict=True):
        # Headlines are short and unpunctuated; a long line is prose even without a full stop.
        if words + cjk >= _LONG_LINE_WORDS or SENTENCE_END.search(paragraph):
            prose.append(paragraph)
            prose_words += words + cjk
    if prose_words >= _MIN_PROSE_WORDS:
        return True
    return (
        prose_words >= _MIN_BRIEF_WORDS
        and sum(len(split_sentences(paragraph)) for paragraph in prose) >= _MIN_BRIEF_SENTENCES
        and not any(_NOTICE.search(paragraph) for paragraph in prose)
    )


def _clean_line(value: str | None) -> str | None:
    value = " ".join((value or "").split())
    return value or None
