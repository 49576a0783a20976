"""``extract``: an HTML page in, an :class:`~bot.types.Article` out. Pure, synchronous, no network."""

from __future__ import annotations

import re
from typing import Any

import trafilatura
from lxml.html import HtmlElement
from trafilatura.utils import load_html

from bot.errors import ExtractError, NotAnArticleError
from bot.extract import _meta
from bot.extract._clean import remove_teaser_blocks
from bot.extract._summary import summarize
from bot.extract._text import reading_minutes, word_count
from bot.types import Article

# Settings chosen by measurement on the article-extraction benchmark (bench/extract_quality.py).
_TRAFILATURA_OPTIONS: dict[str, Any] = {
    "include_comments": False,
    "include_tables": True,
    "include_images": False,
    "include_links": False,
    "with_metadata": True,
}


def extract(html: str, url: str | None = None) -> Article:
    """The article in ``html``, fetched from ``url`` (used for the canonical URL and relative links).

    Raises :class:`NotAnArticleError` when the page has no article text, and
    :class:`ExtractError` when the page cannot be parsed at all.
    """
    if not html or not html.strip():
        raise NotAnArticleError("The page is empty.")
    try:
        tree = load_html(html)
    except (ValueError, TypeError) as e:
        raise ExtractError("The page could not be read as HTML.") from e
    if tree is None:
        raise NotAnArticleError("The page could not be read as HTML.")
    return article_from_tree(tree, url)


def article_from_tree(tree: HtmlElement, url: str | None) -> Article:
    """:func:`extract` on a parsed page; ``tree`` is modified."""
    page_published = _meta.published_time(tree)
    page_language = _meta.language(tree)
    remove_teaser_blocks(tree)
    try:
        document = trafilatura.bare_extraction(tree, url=url, **_TRAFILATURA_OPTIONS)
    except Exception as e:  # trafilatura's failures have no common base
        raise ExtractError("The article could not be extracted from the page.") from e
    if document is None or not (document.text or "").strip():
        raise NotAnArticleError("The page has no article text.")

    title = _clean_line(document.title)
    text = _paragraphs(document.text, title)
    if not text:
        raise NotAnArticleError("The page has no article text.")
    return Article(
        url=url,
        canonical_url=_meta.canonical(url, document.url),
        title=title,
        author=_clean_line(document.author),
        published=page_published or _meta.date_only(document.date),
        site_name=_clean_line(document.sitename) or _meta.host_name(url or document.url),
        description=_clean_line(document.description),
        image_url=_meta.absolute(document.image, url or document.url),
        language=page_language or _clean_line(document.language),
        text=text,
        word_count=word_count(text),
        reading_minutes=reading_minutes(text),
        summary=summarize(text),
    )


def _paragraphs(raw: str, title: str | None) -> str:
    """trafilatura's lines as paragraphs separated by blank lines, without a repeated headline."""
    lines = [" ".join(line.split()) for line in raw.splitlines()]
    lines = [line for line in lines if line]
    # The headline is the article's title, not its text.
    if lines and title and _same_text(lines[0], title):
        lines = lines[1:]
    return "\n\n".join(lines)


def _same_text(a: str, b: str) -> bool:
    def norm(s: str) -> str:
        return re.sub(r"\W+", " ", s).strip().casefold()

    return norm(a) == norm(b)


def _clean_line(value: str | None) -> str | None:
    value = " ".join((value or "").split())
    return value or None
