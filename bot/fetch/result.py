"""What a fetch returns."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from bot.fetch.decode import decode


@dataclass(frozen=True)
class FetchResult:
    """A fetched response, after redirects; the body is complete and within ``fetch.max_bytes``."""

    url: str
    """The URL asked for (normalized)."""
    final_url: str
    """The URL the body came from, after redirects."""
    status: int
    """The final HTTP status: 2xx, or 304 when :attr:`not_modified`."""
    content_type: str | None
    """The media type without parameters (``text/html``), None if the server sent none."""
    charset: str | None
    """The Python codec for the body (header, then in-document declaration, then a guess)."""
    body: bytes
    """The decompressed body; empty when :attr:`not_modified`."""
    headers: Mapping[str, str]
    """The final response's headers: a read-only, case-insensitive copy."""
    etag: str | None
    """The ETag to send next time (for a 304, the one sent unless the server gave a new one)."""
    last_modified: str | None
    """The Last-Modified to send next time, as above."""
    not_modified: bool = False
    """The server answered 304 to a conditional request: nothing changed since ``etag``."""

    @property
    def content_type_header(self) -> str | None:
        """The Content-Type header as sent, charset included (what feed parsers need)."""
        return self.headers.get("Content-Type")

    def text(self) -> str:
        """The body decoded with :attr:`charset`; undecodable bytes become U+FFFD."""
        return decode(self.body, self.charset)
