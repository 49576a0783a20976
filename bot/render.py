"""Plain renderings of an article: terminal text, Markdown and JSON.

Used by ``newsdesk fetch``/``newsdesk extract`` and for the Markdown file
``/fetch full:true`` attaches to long articles.
"""

from __future__ import annotations

import json
from typing import Literal

from bot.types import Article

Format = Literal["text", "markdown", "json"]


def byline(article: Article) -> str:
    """ "Site · Author · 28 Nov 2026 · 4 min read", leaving out what is unknown."""
    parts = [article.site_name, article.author]
    if article.published:
        parts.append(article.published.strftime("%d %b %Y"))
    parts.append(f"{article.reading_minutes} min read")
    return " · ".join(p for p in parts if p)


def to_markdown(article: Article) -> str:
    lines = [f"# {article.title or 'Untitled'}", ""]
    lines += [f"*{byline(article)}*", ""]
    link = article.canonical_url or article.url
    if link:
        lines += [f"<{link}>", ""]
    if article.image_url:
        lines += [f"![]({article.image_url})", ""]
    lines.append(article.text)
    return "\n".join(lines).rstrip() + "\n"


def to_text(article: Article) -> str:
    title = article.title or "Untitled"
    lines = [title, "=" * min(len(title), 80), byline(article)]
    link = article.canonical_url or article.url
    if link:
        lines.append(link)
    lines += ["", "Summary: " + article.summary, "", article.text]
    return "\n".join(lines).rstrip() + "\n"


def to_json(article: Article) -> str:
    return json.dumps(article.to_dict(), ensure_ascii=False, indent=2) + "\n"


def render(article: Article, fmt: Format) -> str:
    renderers = {"text": to_text, "markdown": to_markdown, "json": to_json}
    return renderers[fmt](article)
