"""What goes in a digest: one entry per story, ranked. Pure: no I/O, no clock.

The caller selects the articles of the period: those of the channel's subscriptions first *seen*
since its last digest. Selecting by ingest time, not by ``published``, matters: feeds publish late,
and an item dated 07:55 that arrives at 08:05 would miss both the 08:00 digest and the next one.
The caller may add older articles of the same stories, for context: they count as sources too.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from bot.digests.headline import pick_headline
from bot.digests.text import lead_sentences
from bot.outlets import outlet_key

__all__ = ["Digest", "DigestArticle", "DigestEntry", "SourceLink", "compose_digest"]

#: How long an entry's summary may be (one or two sentences).
SUMMARY_CHARS = 300


@dataclass(frozen=True, slots=True)
class DigestArticle:
    """One article of the period, already assigned to a story by ``bot.stories``."""

    story_id: str
    title: str
    url: str
    #: The outlet's name or host ("BBC News", "bbc.co.uk"); the same kind for every article.
    source_name: str
    #: When the article was published (timezone-aware), if known.
    published: datetime | None = None
    #: The feed's summary or the article's, plain text.
    summary: str | None = None
    #: How to name the outlet to readers (the feed's title), when known; else ``source_name``.
    display_name: str | None = None


@dataclass(frozen=True, slots=True)
class SourceLink:
    """One outlet that reported a story, and the link to its article."""

    name: str
    url: str


@dataclass(frozen=True, slots=True)
class DigestEntry:
    """One story of a digest."""

    story_id: str
    #: The representative headline, and the URL of the article it comes from.
    headline: str
    url: str
    #: One or two sentences, at most ``SUMMARY_CHARS``; empty if no article had a summary.
    summary: str
    #: Distinct outlets, earliest report first.
    sources: tuple[SourceLink, ...]
    #: How many articles the story has in the digest (several per outlet possible).
    article_count: int
    #: The latest article's time, if any article is dated.
    latest: datetime | None


@dataclass(frozen=True, slots=True)
class Digest:
    """A channel's digest for one period."""

    #: The top stories, best first.
    entries: list[DigestEntry] = field(hash=False)
    #: How many stories the period had (``len(entries)`` or more).
    total_stories: int
    period_start: datetime
    period_end: datetime

    @property
    def omitted(self) -> int:
        """Stories left out by the top-N cut."""
        return self.total_stories - len(self.entries)


def compose_digest(
    articles: Iterable[DigestArticle],
    *,
    period_start: datetime,
    period_end: datetime,
    limit: int = 10,
) -> Digest:
    """The digest of ``articles``: top ``limit`` stories by distinct outlets, then recency.

    Stories tie-break on their latest article (newer first, undated last), then story id, so the
    same input always gives the same digest.
    """
    if limit < 0:
        raise ValueError("limit must be >= 0")
    by_story: dict[str, list[DigestArticle]] = {}
    for article in articles:
        by_story.setdefault(article.story_id, []).append(article)
    entries = [_entry(story_id, items) for story_id, items in by_story.items()]
    entries.sort(key=_rank_key)
    return Digest(
        entries=entries[:limit],
        total_stories=len(entries),
        period_start=period_start,
        period_end=period_end,
    )


def _rank_key(entry: DigestEntry) -> tuple[int, bool, float, str]:
    latest = entry.latest
    return (
        -len(entry.sources),
        latest is None,
        -latest.timestamp() if latest is not None else 0.0,
        entry.story_id,
    )


def _entry(story_id: str, items: list[DigestArticle]) -> DigestEntry:
    # Chronological first, so "earliest" means the same everywhere below (undated last).
    items = sorted(items, key=_chronological)
    best = items[pick_headline([a.title for a in items], [a.published for a in items])]
    dated = [a.published for a in items if a.published is not None]
    return DigestEntry(
        story_id=story_id,
        headline=" ".join(best.title.split()) or best.url,
        url=best.url,
        summary=_summary(best, items),
        sources=_sources(items),
        article_count=len(items),
        latest=max(dated) if dated else None,
    )


def _chronological(article: DigestArticle) -> tuple[bool, float, str, str, str]:
    # Ties broken on the content, so the input order never changes the result.
    published = article.published
    when = published.timestamp() if published is not None else 0.0
    return (published is None, when, article.url, article.source_name, article.title)


def _summary(best: DigestArticle, items: list[DigestArticle]) -> str:
    # The chosen article's summary, else the first other one that has something to say.
    for article in [best, *(a for a in items if a is not best)]:
        text = lead_sentences(_without_title(article.summary, article.title), max_chars=SUMMARY_CHARS)
        if text:
            return text
    return ""


def _without_title(summary: str | None, title: str) -> str | None:
    """Many feeds repeat the headline as the summary's first words; that says nothing new."""
    if not summary:
        return summary
    flat, head = " ".join(summary.split()), " ".join(title.split())
    if head and flat.casefold().startswith(head.casefold()):
        return flat[len(head) :].lstrip(" .:-–—|")
    return flat


def _sources(items: list[DigestArticle]) -> tuple[SourceLink, ...]:
    outlets: dict[str, list[DigestArticle]] = {}
    for article in items:
        key = outlet_key(article.source_name) if article.source_name.strip() else outlet_key(article.url)
        outlets.setdefault(key, []).append(article)
    links = []
    for group in outlets.values():
        names = [a.display_name.strip() for a in group if a.display_name and a.display_name.strip()]
        names = names or [a.source_name.strip() for a in group if a.source_name.strip()]
        # The shortest name is the outlet's ("BBC News" rather than "BBC News - World").
        name = min(names, key=len) if names else outlet_key(group[0].url)
        links.append(SourceLink(name=name, url=group[0].url))
    return tuple(links)
