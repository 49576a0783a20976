"""Outlet identity: which feeds belong to one news outlet, so a story's sources count outlets.

:func:`outlet_name` names the outlet of a feed (as stories, digests and alerts see its items);
:func:`outlet_key` folds names and hosts so the feeds of one outlet count once: in a story's
``source_count``, breaking alerts (distinct outlets within a window) and digests (one link per
outlet).
"""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import urlsplit

__all__ = ["outlet_key", "outlet_name"]

# Suffixes that name a section or feed of an outlet, not a different outlet:
# "BBC News - World", "Reuters | Business", "The Guardian: Politics".
_SECTION = re.compile(r"\s+(?:[-–—|:»·]\s+).*$")
_GENERIC_WORDS = ("news", "online", "com", "the")
_HOST_PREFIXES = ("www.", "www2.", "m.", "amp.", "feeds.", "feed.", "rss.", "news.")
# Second-level labels under which a country-code domain registers names ("bbc.co.uk").
_SECOND_LEVELS = frozenset(
    ("co", "com", "net", "org", "gov", "ac", "edu", "ne", "or", "go", "gob", "nic", "mil")
)


def outlet_key(source: str) -> str:
    """A key that is the same for all feeds of one outlet.

    "https://www.bbc.co.uk/news/rss.xml", "feeds.bbc.co.uk" and "bbc.co.uk" give "bbc.co.uk";
    "BBC News", "BBC News - World" and "bbc" give "bbc". A name and a host of the same outlet
    still differ: callers should pass the same kind of source for every article.
    """
    text = source.strip()
    host = host_of(text)
    if host is not None:
        return _registrable(host)
    name = _SECTION.sub("", _fold(text))
    words = [w for w in re.findall(r"[a-z0-9&+']+", name) if w]
    core = [w for w in words if w not in _GENERIC_WORDS]
    return " ".join(core or words) or text.casefold()


def outlet_name(site_url: str | None, feed_title: str | None, feed_url: str | None) -> str:
    """The outlet of a feed: its site's host ("bbc.co.uk"), else its title, else the feed's host.

    Hosts first: they tell outlets apart better than titles ("BBC News - World" and "BBC News -
    UK" are one outlet; two blogs may both be called "News"). Every article of every feed gets a
    name of the same kind whenever it can, as :func:`outlet_key` wants.
    """
    host = _host(site_url)
    if host:
        return host
    if feed_title and feed_title.strip():
        return " ".join(feed_title.split())
    return _host(feed_url) or "unknown"


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def host_of(text: str) -> str | None:
    """The host ``text`` names: a URL's, or ``text`` itself when it is a bare host
    ("reuters.com", "bbc.co.uk", a feed titled "DigitalJournal.com"); else None.
    """
    if "://" in text:
        try:
            host = urlsplit(text).hostname
        except ValueError:
            return None
        return host or None
    candidate = text.casefold().rstrip("/")
    if re.fullmatch(r"[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,}", candidate):
        return candidate
    return None


def _registrable(host: str) -> str:
    host = host.casefold().rstrip(".")
    for prefix in _HOST_PREFIXES:
        if host.startswith(prefix) and host.count(".") >= 2:
            host = host[len(prefix) :]
    labels = host.split(".")
    if len(labels) >= 3 and len(labels[-1]) == 2 and labels[-2] in _SECOND_LEVELS:
        return ".".join(labels[-3:])
    return ".".join(labels[-2:])


def _host(url: str | None) -> str | None:
    if not url:
        return None
    try:
        host = urlsplit(url).hostname
    except ValueError:
        return None
    return host.removeprefix("www.") if host else None
