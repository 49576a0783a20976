"""Where feeds come from: retrievers by URL scheme, and what a retrieval gives.

A retriever turns a feed URL (and the validators of its last fetch) into a
:class:`~bot.fetch.FetchResult`: a body and its media type, or "not modified". The HTTP one
wraps the bot's :class:`~bot.fetch.Fetcher` (size limits, private-address guard, per-host
limits). A new kind of source (a JSON API, a site without a feed) is a retriever mounted here
for its own scheme or prefix, giving a body one of the parsers reads; the parsers are chosen
by the body's kind in :func:`bot.feeds.parse.parse_feed` (:data:`bot.feeds.parse.PARSERS`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Mapping
from typing import Protocol

from bot.fetch import FEED_TYPES, Fetcher, FetchResult


class Retriever(Protocol):
    """Gets a feed's body; raises :class:`~bot.errors.FetchError` with a message fit to show."""

    def retrieve(
        self, url: str, *, etag: str | None = None, last_modified: str | None = None
    ) -> Awaitable[FetchResult]: ...


class HttpRetriever:
    """Feeds over HTTP(S): one GET, conditional when validators are given."""

    def __init__(self, fetcher: Fetcher) -> None:
        self._fetcher = fetcher

    def retrieve(
        self, url: str, *, etag: str | None = None, last_modified: str | None = None
    ) -> Awaitable[FetchResult]:
        # The fetch itself, not a coroutine around it: one frame less per feed checked.
        return self._fetcher.fetch(url, accept_types=FEED_TYPES, etag=etag, last_modified=last_modified)


class Retrievers:
    """The retrievers mounted by URL prefix (the longest matching prefix wins), and the one
    for every other URL (the HTTP one, which refuses what it cannot fetch with its own message).
    """

    def __init__(self, default: Retriever, mounts: Mapping[str, Retriever] | None = None) -> None:
        self._default = default
        self._mounts: list[tuple[str, Retriever]] = []
        for prefix, retriever in (mounts or {}).items():
            self.mount(prefix, retriever)

    @classmethod
    def http(cls, fetcher: Fetcher) -> Retrievers:
        """The bot's sources: feeds over HTTP(S) through ``fetcher``."""
        return cls(HttpRetriever(fetcher))

    def mount(self, prefix: str, retriever: Retriever) -> None:
        """Retrieve the URLs starting with ``prefix`` (lower case) with ``retriever``."""
        self._mounts = sorted([*self._mounts, (prefix, retriever)], key=lambda m: len(m[0]), reverse=True)

    def retrieve(
        self, url: str, *, etag: str | None = None, last_modified: str | None = None
    ) -> Awaitable[FetchResult]:
        """The feed at ``url`` from its retriever. Raises :class:`~bot.errors.FetchError`."""
        retriever = self._default
        if self._mounts:
            lowered = url.lower()
            retriever = next((r for prefix, r in self._mounts if lowered.startswith(prefix)), retriever)
        return retriever.retrieve(url, etag=etag, last_modified=last_modified)


def body_hash(body: bytes) -> str:
    """A short, stable fingerprint of a feed body."""
    # SHA-256 rather than BLAKE2: x86-64 and ARM CPUs hash it in hardware, about twice as fast.
    # Changing it re-parses each feed once, no more: the items' keys keep anything from being
    # posted twice.
    return hashlib.sha256(body).hexdigest()[:32]


def retry_after(error: BaseException) -> str | None:
    """The ``Retry-After`` a failed response carried (:attr:`HTTPStatusError.retry_after`)."""
    value = getattr(error, "retry_after", None)
    if value is not None:
        return str(value)
    headers = getattr(error, "headers", None)
    if isinstance(headers, Mapping):
        found = headers.get("Retry-After")
        return str(found) if found is not None else None
    return None
