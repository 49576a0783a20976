"""Where feeds come from: the retrievers by URL prefix, and a new kind of source plugged in."""

from __future__ import annotations

import json

from bot.feeds.parser_pool import InThreadParser
from bot.feeds.pipeline import FeedPipeline
from bot.feeds.sources import Retrievers
from bot.fetch import FetchResult
from bot.storage import Database
from bot.storage.feeds import FeedStore
from tests.test_feed_poller import feed_settings


class Canned:
    """A retriever answering every URL with one body (as a JSON API adapter would)."""

    def __init__(self, body: bytes) -> None:
        self.body = body
        self.asked: list[str] = []

    async def retrieve(
        self, url: str, *, etag: str | None = None, last_modified: str | None = None
    ) -> FetchResult:
        self.asked.append(url)
        return FetchResult(
            url=url, final_url=url, status=200, content_type="application/feed+json", charset="utf-8",
            body=self.body, headers={}, etag=None, last_modified=None,
        )  # fmt: skip


async def test_a_url_goes_to_the_retriever_of_its_longest_prefix_else_to_the_default() -> None:
    default, api, deeper = Canned(b""), Canned(b""), Canned(b"")
    sources = Retrievers(default, {"api+json://": api})
    sources.mount("api+json://deep/", deeper)
    for url in ("API+JSON://news/1", "api+json://deep/2", "https://example.org/feed"):
        await sources.retrieve(url)
    assert (api.asked, deeper.asked, default.asked) == (
        ["API+JSON://news/1"],
        ["api+json://deep/2"],
        ["https://example.org/feed"],
    )


async def test_a_new_source_is_a_retriever_mounted_for_its_urls(db: Database) -> None:
    body = json.dumps(
        {
            "version": "https://jsonfeed.org/version/1.1",
            "title": "From an API",
            "items": [{"id": "1", "url": "https://example.org/a", "title": "A"}],
        }
    ).encode()
    api = Canned(body)
    sources = Retrievers(Canned(b"not used"), {"api+json://": api})
    pipeline = FeedPipeline(FeedStore(db), sources, InThreadParser(), feed_settings())
    fetched = await pipeline.fetch_new("api+json://news")
    assert (fetched.url, fetched.parsed.title, [e.title for e in fetched.parsed.entries]) == (
        "api+json://news",
        "From an API",
        ["A"],
    )
    assert api.asked == ["api+json://news"]
