"""The voices of a story: which of its articles count, as whom, and from when, for alerts.

A story is breaking when enough *distinct voices* reported it within a window. An article's
voice is its publisher (:func:`bot.publishers.publisher_keys`: the feeds, sections and domains
of one publisher are one voice), except that:

* an article whose headline is a recurring title ("Today's weather", "Daily crossword") is no
  voice at all (:func:`bot.recurring.is_recurring_title`);
* a word-for-word reprint (same headline, and same lead where both have one) by other outlets
  is the voice of its earliest copy, unless the channel counts reprints (``count_reprints``);
* an undated article first seen in a backlog (a feed's first fetch, an OPML import, many at once
  after an outage) counts as a voice, but with no time: it never makes the story breaking
  (``AlertArticle.imported``).

Pure.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime

from bot.alerts.types import AlertArticle, AlertStory
from bot.publishers import publisher_keys
from bot.recurring import is_recurring_title

__all__ = ["Sighting", "article_voices", "story_voices", "voice_count"]

#: ``(voice, published)`` of one counted article; ``published`` None: its time is unknown.
Sighting = tuple[str, datetime | None]

# A headline this short may be shared by chance ("Oil falls"), not copied.
_MIN_REPRINT_WORDS = 4
# How much of the lead must agree, when both copies have one (sites cut leads at different lengths).
_LEAD_CHARS = 80
_WORD = re.compile(r"\w+")


def story_voices(story: AlertStory, *, count_reprints: bool = False) -> list[Sighting]:
    """``(voice, published)`` for each article that counts, in the story's article order."""
    return [
        (voice, None if a.imported else a.published)
        for a, voice in zip(story.articles, article_voices(story, count_reprints=count_reprints), strict=True)
        if voice is not None
    ]


def article_voices(story: AlertStory, *, count_reprints: bool = False) -> list[str | None]:
    """The voice of each of the story's articles, None for one that does not count."""
    kept = [i for i, a in enumerate(story.articles) if a.source.strip() and not _recurring(a)]
    articles = [story.articles[i] for i in kept]
    keys = publisher_keys(a.source for a in articles)
    voices = [keys[a.source] for a in articles]
    if not count_reprints:
        voices = _fold_reprints(articles, voices)
    out: list[str | None] = [None] * len(story.articles)
    for i, voice in zip(kept, voices, strict=True):
        out[i] = voice
    return out


def voice_count(story: AlertStory, *, count_reprints: bool = False) -> int:
    """How many distinct voices reported the story (undated imports included)."""
    return len({v for v, _ in story_voices(story, count_reprints=count_reprints)})


def _recurring(article: AlertArticle) -> bool:
    return is_recurring_title(article.title, article.display_name or article.source)


def _fold_reprints(articles: list[AlertArticle], voices: list[str]) -> list[str]:
    """Each reprint's voice replaced by its earliest copy's."""
    by_title: dict[str, list[int]] = {}
    for i, article in enumerate(articles):
        title = _normal(_own_title(article))
        if len(title.split()) >= _MIN_REPRINT_WORDS:
            by_title.setdefault(title, []).append(i)
    out = list(voices)
    for members in by_title.values():
        if len({voices[i] for i in members}) < 2:
            continue
        for copies in _by_lead(articles, members):
            first = min(copies, key=lambda i: _when(articles[i]))
            for i in copies:
                out[i] = voices[first]
    return out


def _by_lead(articles: list[AlertArticle], members: list[int]) -> list[list[int]]:
    """Copies of one headline split by their lead; copies without a lead join the first group."""
    groups: dict[str, list[int]] = {}
    bare: list[int] = []
    for i in members:
        lead = _normal(articles[i].summary or "")[:_LEAD_CHARS]
        if lead:
            groups.setdefault(lead, []).append(i)
        else:
            bare.append(i)
    out = list(groups.values())
    if not out:
        return [bare]
    out[0].extend(bare)
    return out


def _when(article: AlertArticle) -> tuple[bool, float]:
    p = article.published
    return (p is None, p.timestamp() if p is not None else 0.0)


def _own_title(article: AlertArticle) -> str:
    """The headline less a trailing " - Publisher" that names the article's own outlet
    (aggregators append it: "Quake hits Japan - The Daily Post")."""
    head, sep, tail = article.title.rpartition(" - ")
    if not sep:
        head, sep, tail = article.title.rpartition(" | ")
    if sep and head.strip():
        name = set(_normal(article.display_name or "").split()) | set(_normal(article.source).split())
        if set(_normal(tail).split()) <= name:
            return head
    return article.title


def _normal(text: str) -> str:
    folded = unicodedata.normalize("NFKC", text).casefold()
    return " ".join(_WORD.findall(folded))
