"""A pool worker process: reads pages on stdin, writes articles or errors on stdout.

Run by :class:`~bot.extract.ExtractorPool` as ``python -m bot.extract._worker``.
A fresh interpreter rather than ``multiprocessing`` keeps the parent's ``__main__``
(a notebook, a test runner) from being imported again in every worker.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import sys
from typing import BinaryIO

import trafilatura

from bot.errors import ExtractError, NotAnArticleError
from bot.extract._core import extract, extract_utf8
from bot.workers import pipe
from bot.workers.pipe import DEFAULT_NICENESS

log = logging.getLogger(__name__)


# A small page that walks every code path once (metadata, dates, the fallback
# extractors and their stop lists), so the first real page is not slowed by
# lazy imports and caches.
_WARM_UP_PAGE = """<html lang="en"><head><title>Warm-up</title>
<meta property="article:published_time" content="2024-01-02T03:04:05Z"></head><body>
<nav><a href="/">Home</a></nav><article><h1>Warm-up</h1><p>Published on 2 January 2024.</p>
<p>This paragraph is long enough to count as the text of an article for the extractor.
It has a few sentences. It talks about nothing in particular, and that is fine.</p></article>
<ul><li>One</li><li>Two</li><li>Three</li><li>Four</li></ul></body></html>"""


def serve(requests: BinaryIO, responses: BinaryIO) -> None:
    """Answer requests until the pool closes the pipe."""
    _warm_up()
    # What is alive now (modules, stop lists, caches) lives as long as the worker: out of
    # the garbage collector's sight, its collections stop re-scanning it on every page.
    gc.freeze()
    pipe.answer(responses, ("ready", os.getpid()))
    while True:
        request = pipe.read_message(requests)
        if request is None:
            return
        page, url = request
        try:
            answer = ("ok", extract_utf8(page, url))
        except NotAnArticleError as e:
            answer = ("not-an-article", str(e))
        except ExtractError as e:
            answer = ("error", str(e))
        except Exception:  # keep serving: one bad page must not cost the worker
            log.exception("extract: unexpected failure on url=%s", url)
            answer = ("error", "The article could not be extracted from the page.")
        pipe.answer(responses, answer)


def _warm_up() -> None:
    try:
        extract(_WARM_UP_PAGE, "https://example.com/warm-up")
        trafilatura.bare_extraction(_WARM_UP_PAGE, fast=False, include_comments=False)
    except ExtractError:
        pass


def main() -> None:
    # Below the bot's own priority: when the cores are busy, the event loop (answering
    # Discord) must win over extraction, which can wait a few milliseconds.
    niceness = int(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_NICENESS
    # trafilatura logs a warning for every page it discards; here that is a normal answer.
    for name in ("trafilatura", "htmldate", "justext", "readability"):
        logging.getLogger(name).setLevel(logging.ERROR)
    requests, responses = pipe.worker_pipes(niceness)
    # The pool going away is the normal way for a worker to end.
    with contextlib.suppress(BrokenPipeError, KeyboardInterrupt):
        serve(requests, responses)


if __name__ == "__main__":
    main()
