"""Public data types of newsdesk: plain, frozen, typed, and free of Discord."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class Article:
    """An article extracted from a web page."""

    #: The URL the page was fetched from (after redirects), or the one given.
    url: str | None
    #: The page's canonical URL (``<link rel=canonical>`` or ``url``), tracking parameters removed.
    canonical_url: str | None
    #: The headline.
    title: str | None
    #: The byline, as the page gives it.
    author: str | None
    #: When the article was published (timezone-aware when the page says so).
    published: datetime | None
    #: The publication's name ("The Guardian"), else the host name.
    site_name: str | None
    #: The page's own description (``og:description`` / meta description).
    description: str | None
    #: The lead image (``og:image``), absolute.
    image_url: str | None
    #: The text's language code ("en"), when known.
    language: str | None
    #: The article body as plain text, paragraphs separated by blank lines.
    text: str
    #: Words in ``text``.
    word_count: int
    #: Estimated reading time in whole minutes (at least 1).
    reading_minutes: int
    #: Two or three sentences of the text, chosen extractively.
    summary: str

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (``published`` as ISO 8601)."""
        data = dataclasses.asdict(self)
        data["published"] = self.published.isoformat() if self.published else None
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Article:
        """The inverse of :meth:`to_dict`; unknown keys are ignored."""
        names = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in data.items() if k in names}
        published = values.get("published")
        if isinstance(published, str):
            values["published"] = datetime.fromisoformat(published)
        return cls(**values)
