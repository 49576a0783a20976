"""A feed item through a template: a :class:`MessageSpec`, fitted to Discord's limits. Pure.

Rendering is one pass over the parsed parts, each placeholder value computed once and capped,
and each part's output capped just over its Discord limit (the spec's own fitting cuts the rest
at a word boundary), so time and output are bounded whatever the template and the item.

Placeholder values come from strangers: in Markdown parts (content, title, description) they
are escaped (:func:`~bot.discord_text.escape_markdown`), except that in the content and the
description ``{summary}`` is the feed's summary as the converter's Markdown (links, lists,
quotes; its text escaped, see :mod:`bot.feeds.markdown`) once the entry was readied for posting,
and ``{article_text}`` keeps its paragraphs; in the author and footer, shown as
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
from bot.feeds.markdown import fit_markdown, plain_to_markdown
from bot.feeds.types import Feed, FeedEntry
from bot.templates.presets import (
    FEED_COLOUR,
    PRESET_PARTS,
    SUMMARY_CHARS,
    full_message,
    http_url,
    item_image,
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
#: Markdown markers a manager may wrap a placeholder in, longest first.
_MARKERS = ("***", "**", "*", "__", "_", "~~", "||", "`")
_LEADING_SEPARATOR = re.compile(r"^[·|:–—-](?:\s+|$)")
_TRAILING_SEPARATOR = re.compile(r"(?:^|\s+)[·|:–—-]$")
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
    if "title" in parts and "url" not in parts:
        parts["url"] = "{link}"  # a title links to the item unless the template says where
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
    kind = _kind(name)
    texts: list[str] = []
    slots: set[int] = set()  # where the values are
    empty: list[int] = []  # where a placeholder gave nothing
    size = 0
    for piece in pieces:
        if isinstance(piece, str):
            text = piece
        else:
            text = values.get(piece.name, kind)
            slots.add(len(texts))
            if not text:
                empty.append(len(texts))
        texts.append(text)
        size += len(text)
        if size > limit:  # bounded output: the rest would be cut anyway
            break
    if empty and kind != "url":
        _drop_dangling_markup(texts, slots, empty)
    result = "".join(texts).strip()
    if kind == "url":
        return result if http_url(result) and not _WHITESPACE.search(result) else None
    if kind == "markdown" and len(result) >= limit:
        # Cut here rather than by the spec's plain fitting: never inside a masked link.
        result = fit_markdown(result, limit - 1)
    return result or None


def _kind(name: str) -> str:
    if name in URL_PARTS:
        return "url"
    if name == "title":  # Markdown, but one line and no links: a title is no place for a summary's
        return "inline"
    return "markdown" if name in MARKDOWN_PARTS else "plain"


def _drop_dangling_markup(texts: list[str], slots: set[int], empty: list[int]) -> None:
    """The manager's markers around a placeholder that gave nothing go too ("**{title}**"
    would show "****"), and a separator left at either end ("{title} · {link}") with them.
    Only the template's own text is touched, never a value.
    """
    last = len(texts) - 1
    for at in empty:
        if at == 0 or at == last or at - 1 in slots or at + 1 in slots:
            continue
        before, after = texts[at - 1], texts[at + 1]
        marker = next((m for m in _MARKERS if before.endswith(m) and after.startswith(m)), None)
        if marker is not None:
            texts[at - 1], texts[at + 1] = before[: -len(marker)], after[len(marker) :]
    shown = [i for i, text in enumerate(texts) if text.strip()]
    if not shown:
        return
    first, final = shown[0], shown[-1]
    if empty[0] < first and first not in slots:
        texts[first] = _LEADING_SEPARATOR.sub("", texts[first].lstrip(), count=1)
    if empty[-1] > final and final not in slots:
        texts[final] = _TRAILING_SEPARATOR.sub("", texts[final].rstrip(), count=1)


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
                if when is not None and kind in ("markdown", "inline")
                else (when.strftime("%Y-%m-%d %H:%M UTC") if when is not None else "")
            )
        if name == "reading_time":
            return f"{self._article.reading_minutes} min" if self._article is not None else ""
        if kind == "markdown" and (markdown := self._markdown(name)) is not None:
            return markdown
        raw = self._raw(name)
        if kind == "url":
            return raw.strip()
        if kind == "markdown":
            return escape_markdown(raw)
        if kind == "inline":
            return escape_markdown(one_line(raw))
        return neutralize_mentions(one_line(raw))

    def _url(self, name: str) -> str:
        if name == "link":
            return http_url(self._entry.link) or ""
        return item_image(self._entry, self._article) or ""

    def _markdown(self, name: str) -> str | None:
        """The value as Markdown where it has its own (kept paragraphs, lists, links), else ``None``."""
        entry, article = self._entry, self._article
        if name == "summary":
            if article is not None and (article.summary or article.description):
                return None  # the article's summary (extract:true), plain text
            return entry.summary_markdown
        if name == "article_text" and article is not None:
            return plain_to_markdown(article.text[: VALUE_CHARS * 2], VALUE_CHARS) or ""
        return None

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
