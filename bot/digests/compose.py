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

from bot.digests.headline import display_title, pick_headline, title_centrality
from bot.digests.text import lead_sentences
from bot.outlets import outlet_key
from bot.publishers import publisher_keys

__all__ = ["Digest", "DigestArticle", "DigestEntry", "SourceLink", "compose_digest", "summary_candidates"]

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
    #: The summary of the page's extraction, when one is cached (``extract:true``, ``/fetch``).
    extracted_summary: str | None = None


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
    ranked = _ranked_stories(articles)
    return Digest(
        entries=[_entry(story_id, items) for story_id, items in ranked[:limit]],
        total_stories=len(ranked),
        period_start=period_start,
        period_end=period_end,
    )


def summary_candidates(articles: Iterable[DigestArticle], *, limit: int, per_story: int) -> list[str]:
    """The links whose cached extraction could give a summary to the top ``limit`` stories.

    Per story, the headline's article first, then the others by centrality, at most
    ``per_story``: the caller looks these up in the article cache before composing.
    """
    urls: list[str] = []
    for _, items in _ranked_stories(articles)[:limit]:
        best, others = _best_and_central(sorted(items, key=_chronological))
        urls.extend(a.url for a in [best, *others][:per_story] if a.url)
    return urls


def _ranked_stories(articles: Iterable[DigestArticle]) -> list[tuple[str, list[DigestArticle]]]:
    # Ranked before any headline is scored: only the stories shown need one.
    by_story: dict[str, list[DigestArticle]] = {}
    for article in articles:
        by_story.setdefault(article.story_id, []).append(article)
    return sorted(by_story.items(), key=lambda story: _rank_key(*story))


def _rank_key(story_id: str, items: list[DigestArticle]) -> tuple[int, bool, float, str]:
    dated = [a.published for a in items if a.published is not None]
    latest = max(dated) if dated else None
    return (
        -len(_sources(items)),
        latest is None,
        -latest.timestamp() if latest is not None else 0.0,
        story_id,
    )


def _best_and_central(items: list[DigestArticle]) -> tuple[DigestArticle, list[DigestArticle]]:
    """The headline's article, and the others most central first (``items`` chronological)."""
    best = items[pick_headline([a.title for a in items], [a.published for a in items])]
    centrality = title_centrality([display_title(a.title) for a in items])
    order = sorted(range(len(items)), key=lambda i: -round(centrality[i], 9))
    return best, [items[i] for i in order if items[i] is not best]


def _entry(story_id: str, items: list[DigestArticle]) -> DigestEntry:
    # Chronological first, so "earliest" means the same everywhere below (undated last).
    items = sorted(items, key=_chronological)
    best, central = _best_and_central(items)
    dated = [a.published for a in items if a.published is not None]
    names = [n for n in (best.source_name, best.display_name) if n]
    return DigestEntry(
        story_id=story_id,
        headline=display_title(best.title, names) or best.url,
        url=best.url,
        summary=_extracted_summary([best, *central]) or _summary(best, items),
        sources=_sources(items),
        article_count=len(items),
        latest=max(dated) if dated else None,
    )


def _chronological(article: DigestArticle) -> tuple[bool, float, str, str, str]:
    # Ties broken on the content, so the input order never changes the result.
    published = article.published
    when = published.timestamp() if published is not None else 0.0
    return (published is None, when, article.url, article.source_name, article.title)


def _extracted_summary(preferred: list[DigestArticle]) -> str:
    """The best source's extracted summary: the headline's article's, else the most central
    article's that has one. A page's extraction says more than a feed's teaser."""
    for article in preferred:
        text = lead_sentences(
            _without_title(article.extracted_summary, article.title), max_chars=SUMMARY_CHARS
        )
        if text:
            return text
    return ""


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
    # Counted by publisher, as breaking alerts count them: bbc.co.uk and bbc.com are one outlet.
    source_of = [a.source_name.strip() or a.url for a in items]
    publisher_of = publisher_keys(source_of)
    outlets: dict[str, list[DigestArticle]] = {}
    for article, source in zip(items, source_of, strict=True):
        key = publisher_of.get(source) or outlet_key(source)
        outlets.setdefault(key, []).append(article)
    links = []
    for group in outlets.values():
        names = [a.display_name.strip() for a in group if a.display_name and a.display_name.strip()]
        names = names or [a.source_name.strip() for a in group if a.source_name.strip()]
        # The shortest name is the outlet's ("BBC News" rather than "BBC News - World").
        name = min(names, key=len) if names else outlet_key(group[0].url)
        links.append(SourceLink(name=name, url=group[0].url))
    return tuple(links)
