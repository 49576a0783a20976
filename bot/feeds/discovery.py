"""Finding a site's feeds from one of its pages, for ``/feed add`` given a web page. Pure."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit, urlunsplit

import lxml.html
from lxml import etree

from bot.feeds._text import absolute

#: MIME types of ``<link rel="alternate">`` that announce a feed.
FEED_TYPES = frozenset(
    {
        "application/rss+xml",
        "application/atom+xml",
        "application/rdf+xml",
        "application/feed+json",
        "application/json",
        "application/x.atom+xml",
        "application/x-atom+xml",
        "text/xml",
        "application/xml",
    }
)

#: Where sites usually keep their feed, most common first, for the caller to probe.
COMMON_FEED_PATHS: tuple[str, ...] = (
    "/feed",
    "/rss",
    "/feed.xml",
    "/rss.xml",
    "/atom.xml",
    "/index.xml",
    "/feed/",
    "/rss/",
    "/index.rss",
    "/feed.json",
    "/feeds/posts/default",
    "/?feed=rss2",
)

_XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>")
# Under a page's directory only the most common few are worth a request each.
_DIRECTORY_PATHS = 6


@dataclass(frozen=True, slots=True)
class FeedLink:
    """A feed a page announces."""

    #: The feed's absolute URL.
    url: str
    #: The link's title ("Comments feed"), when it has one.
    title: str | None
    #: The announced MIME type ("application/rss+xml"), lowercased, parameters dropped.
    type: str


def discover_feed_links(html: str, base_url: str) -> list[FeedLink]:
    """Feeds announced by ``<link rel="alternate" type=...>`` in a page, absolute, deduplicated,
    in page order. ``<base href>`` is honoured.
    """
    # lxml refuses str input that declares an encoding (XHTML pages start with one).
    html = _XML_DECLARATION.sub("", html, count=1)
    if not html or not html.strip():
        return []
    try:
        document = lxml.html.document_fromstring(html)
    except (etree.ParserError, ValueError):
        return []
    base = base_url
    for element in document.iter("base"):
        href = element.get("href")
        if href:
            base = urljoin(base_url, href.strip())
            break
    links: list[FeedLink] = []
    seen: set[str] = set()
    for element in document.iter("link"):
        rels = (element.get("rel") or "").lower().split()
        mime = (element.get("type") or "").split(";")[0].strip().lower()
        if not ("alternate" in rels or "feed" in rels) or mime not in FEED_TYPES:
            continue
        url = absolute(element.get("href"), base)
        if url is None or url in seen:
            continue
        seen.add(url)
        title = (element.get("title") or "").strip() or None
        links.append(FeedLink(url=url, title=title, type=mime))
    return links


def candidate_paths(base_url: str) -> list[str]:
    """Absolute URLs to probe when a page announces no feed: the six most common paths under the
    page's directory first (a blog at ``/blog/``), then all of them under the site root.
    """
    parts = urlsplit(base_url)
    root = urlunsplit((parts.scheme, parts.netloc, "", "", ""))
    directory = parts.path.rsplit("/", 1)[0] if parts.path else ""
    candidates: list[str] = []
    if directory:
        candidates += [root + directory + path for path in COMMON_FEED_PATHS[:_DIRECTORY_PATHS]]
    candidates += [root + path for path in COMMON_FEED_PATHS if root + path not in candidates]
    return candidates
