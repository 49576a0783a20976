"""Safe fetching of web pages and feeds: SSRF guard, size and time limits, charset detection.

Use one :class:`Fetcher` per application::

    async with Fetcher(settings.fetch) as fetcher:
        result = await fetcher.fetch(url)             # a web page
        feed = await fetcher.fetch(url, accept_types=FEED_TYPES, etag=previous.etag)
"""

from bot.fetch.content import FEED_TYPES, HTML_TYPES
from bot.fetch.fetcher import Fetcher
from bot.fetch.result import FetchResult

__all__ = ["FEED_TYPES", "HTML_TYPES", "FetchResult", "Fetcher"]
