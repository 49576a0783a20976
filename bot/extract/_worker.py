"""What an extraction worker does once at its start (see :class:`~bot.extract.ExtractorPool`)."""

from __future__ import annotations

import logging

import trafilatura

from bot.errors import ExtractError
from bot.extract._core import extract

# A small page that walks every code path once (metadata, dates, the fallback
# extractors and their stop lists), so the first real page is not slowed by
# lazy imports and caches.
_WARM_UP_PAGE = """<html lang="en"><head><title>Warm-up</title>
<meta property="article:published_time" content="2024-01-02T03:04:05Z"></head><body>
<nav><a href="/">Home</a></nav><article><h1>Warm-up</h1><p>Published on 2 January 2024.</p>
<p>This paragraph is long enough to count as the text of an article for the extractor.
It has a few sentences. It talks about nothing in particular, and that is fine.</p></article>
<ul><li>One</li><li>Two</li><li>Three</li><li>Four</li></ul></body></html>"""


def warm_up() -> None:
    """Quiet the libraries and run every extraction path once."""
    # trafilatura logs a warning for every page it discards; here that is a normal answer.
    for name in ("trafilatura", "htmldate", "justext", "readability"):
        logging.getLogger(name).setLevel(logging.ERROR)
    try:
        extract(_WARM_UP_PAGE, "https://example.com/warm-up")
        trafilatura.bare_extraction(_WARM_UP_PAGE, fast=False, include_comments=False)
    except ExtractError:
        pass
