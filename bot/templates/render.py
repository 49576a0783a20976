"""A feed item through a template: a :class:`MessageSpec`, fitted to Discord's limits. Pure.

Rendering is one pass over the parsed parts, each placeholder value computed once and capped,
and each part's output capped just over its Discord limit (the spec's own fitting cuts the rest
at a word boundary), so time and output are bounded whatever the template and the item.

Placeholder values come from strangers: in Markdown parts (content, title, description) they
are escaped (:func:`~bot.discord_text.escape_markdown`); in the author and footer, shown as
written by Discord, their mentions are broken; in link parts they are used only when the result
is an http(s) address. The template's own text is the manager's and kept as written. A post is
never empty: a template that renders to nothing falls back to the item's title and link.
"""

from __future__ import annotations

import dataclasses
import re
from functools import lru_cache
from typing import Any

from bot.delivery.message import DESCRIPTION_LIMIT, EmbedSpec, MessageSpec
from bot.discord_text import escape_markdown, fit, neutralize_mentions, one_line, safe_url
from bot.feeds.types import Feed, FeedEntry
from bot.templates.presets import (
    FEED_COLOUR,
    PRESET_PARTS,
    SUMMARY_CHARS,
    full_message,
    http_url,
    source_of,
)
from bot.templates.syntax import Pieces, TemplateError, parse
from bot.templates.template import DEFAULT_TEMPLATE, TEXT_LIMITS, URL_PARTS, Template, colour_value
from bot.types import Article

#: Parts whose text Discord renders as Markdown.
MARKDOWN_PARTS = frozenset({"content", "title", "description"})
#: Longest value of one placeholder before escaping (the longest part Discord takes).
VALUE_CHARS = DESCRIPTION_LIMIT
_WHITESPACE = re.compile(r"\s")
_EMBED_PART_FIELDS = {
    "title": "title",
    "description": "description",
    "url": "url",
    "thumbnail": "thumbnail_url",
    "image": "image_url",
    "author": "author_name",
    "footer": "footer_text",
}


def render_post(
    template: Template | None, entry: FeedEntry, feed: Feed, article: Article | None = None
) -> MessageSpec:
    """The post for ``entry`` of ``feed`` laid out by ``template`` (``None``: the default)."""
    template = template or DEFAULT_TEMPLATE
    overrides = template.parts()
    if template.preset == "full" and not overrides:
        return full_message(entry, feed, article)
    values = _Values(entry, feed, article)
    if template.preset == "full":
        base = full_message(entry, feed, article)
        content, embed = base.content, base.embeds[0]
    else:
        content, embed = None, EmbedSpec(colour=FEED_COLOUR, timestamp=entry.published)
    parts = {**PRESET_PARTS[template.preset], **overrides}
    changes: dict[str, Any] = {}
    for name, text in parts.items():
        if name == "color":
            changes["colour"] = colour_value(text)
            continue
        rendered = _render_part(name, _parsed(text), values)
        if name == "content":
            content = rendered
        else:
            changes[_EMBED_PART_FIELDS[name]] = rendered
    embed = dataclasses.replace(embed, **changes)
    return _never_empty(content, embed, values)


@lru_cache(maxsize=4096)
def _parsed(text: str) -> Pieces:
    # Templates were checked when saved (Template.from_json drops one that no longer parses).
    try:
        return parse(text)
    except TemplateError:
        return (text,)


def _render_part(name: str, pieces: Pieces, values: _Values) -> str | None:
    limit = TEXT_LIMITS[name] + 1  # one past the limit: the spec's fitting adds the ellipsis
    kind = "url" if name in URL_PARTS else "markdown" if name in MARKDOWN_PARTS else "plain"
    out: list[str] = []
    size = 0
    for piece in pieces:
        text = piece if isinstance(piece, str) else values.get(piece.name, kind)
        out.append(text)
        size += len(text)
        if size > limit:  # bounded output: the rest would be cut anyway
            break
    result = "".join(out).strip()
    if kind == "url":
        return result if http_url(result) and not _WHITESPACE.search(result) else None
    return result or None


def _never_empty(content: str | None, embed: EmbedSpec, values: _Values) -> MessageSpec:
    """The spec, with an embed showing nothing left out and the title and link as content
    when nothing would be shown at all (Discord refuses an empty message).
    """
    shows = (embed.title, embed.description, embed.author_name, embed.footer_text, embed.image_url)
    embeds = (embed,) if any(shows) or embed.thumbnail_url or embed.fields else ()
    if not content and not embeds:
        content = " ".join(v for v in (values.get("title", "markdown"), values.get("link", "url")) if v)
        content = content or "(untitled)"
    return MessageSpec(content=content, embeds=embeds, allowed_role_ids=())


class _Values:
    """The placeholder values of one item, each computed once per kind of part."""

    __slots__ = ("_article", "_cache", "_entry", "_feed")

    def __init__(self, entry: FeedEntry, feed: Feed, article: Article | None) -> None:
        self._entry, self._feed, self._article = entry, feed, article
        self._cache: dict[tuple[str, str], str] = {}

    def get(self, name: str, kind: str) -> str:
        key = (name, kind)
        value = self._cache.get(key)
        if value is None:
            value = self._cache[key] = self._compute(name, kind)
        return value

    def _compute(self, name: str, kind: str) -> str:
        if name in ("link", "image"):
            url = self._url(name)
            return url if kind == "url" else neutralize_mentions(safe_url(url) or "")
        if name == "published":
            when = self._entry.published
            return (
                f"<t:{int(when.timestamp())}:f>"
                if when is not None and kind == "markdown"
                else (when.strftime("%Y-%m-%d %H:%M UTC") if when is not None else "")
            )
        if name == "reading_time":
            return f"{self._article.reading_minutes} min" if self._article is not None else ""
        raw = self._raw(name)
        if kind == "url":
            return raw.strip()
        if kind == "markdown":
            return escape_markdown(raw)
        return neutralize_mentions(one_line(raw))

    def _url(self, name: str) -> str:
        entry, article = self._entry, self._article
        if name == "link":
            return http_url(entry.link) or ""
        return (http_url(article.image_url) if article else None) or http_url(entry.image_url) or ""

    def _raw(self, name: str) -> str:
        """The untrusted text behind a placeholder, capped (not yet escaped)."""
        entry, feed, article = self._entry, self._feed, self._article
        if name == "title":
            text = one_line(entry.title[:VALUE_CHARS] if entry.title else "")
        elif name == "summary":
            source = (article.summary or article.description) if article else None
            return fit(one_line((source or entry.summary or "")[: VALUE_CHARS * 2]), SUMMARY_CHARS)
        elif name == "author":
            text = one_line(entry.author or (article.author if article else None))
        elif name == "source":
            text = source_of(feed)
        elif name == "feed_title":
            text = one_line(feed.title)
        elif name == "categories":
            text = ", ".join(one_line(c) for c in entry.categories[:25])
        elif name == "article_text":
            return fit(article.text[: VALUE_CHARS * 2].strip(), VALUE_CHARS) if article else ""
        else:  # pragma: no cover - parse() admits only known names
            return ""
        return text[:VALUE_CHARS]
