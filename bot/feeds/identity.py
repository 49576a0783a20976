"""Stable keys for entries, so the dedup layer knows what it has already posted.

Link keys go through :func:`bot.urls.canonicalize_url` (lowercase scheme/host, no default port,
fragment or tracking parameters). Changing that function changes stored keys: a canonicalisation
change means every feed's newest items look new once, unless keys are migrated.
"""

from __future__ import annotations

import hashlib
from urllib.parse import urlsplit, urlunsplit

from bot.errors import InvalidURLError
from bot.feeds.types import FeedEntry
from bot.urls import canonicalize_url

#: Keys longer than this are hashed, so they fit an indexed database column.
MAX_KEY_LENGTH = 255


def link_key(entry: FeedEntry) -> str | None:
    """The entry's link in canonical form, or ``None`` when it has no usable link."""
    if not entry.link:
        return None
    try:
        key = canonicalize_url(entry.link)
    except InvalidURLError:
        # canonicalize_url only takes links we would fetch; a feed may still carry odd ones.
        key = _fallback_canonical(entry.link)
    return _bounded(key)


def entry_key(entry: FeedEntry) -> str:
    """The entry's identity: its guid, else its canonical link, else a hash of title and date.

    Prefixed by kind ("guid:", "link:", "hash:") so a guid can never collide with a link key.
    """
    return entry_keys(entry)[0]


def entry_keys(entry: FeedEntry) -> tuple[str, str | None]:
    """``(entry_key(entry), link_key(entry))``, canonicalising the link once."""
    lkey = link_key(entry)
    return _entry_key(entry, lkey), lkey


def _entry_key(entry: FeedEntry, key: str | None) -> str:
    if entry.guid:
        return _bounded(f"guid:{entry.guid}")
    if key:
        return f"link:{key}"
    published = entry.published.isoformat() if entry.published else ""
    # Without a title the summary has to tell entries apart.
    text = entry.title or entry.summary or ""
    digest = hashlib.sha256(f"{text}\n{published}".encode()).hexdigest()[:32]
    return f"hash:{digest}"


def _bounded(key: str) -> str:
    if len(key) <= MAX_KEY_LENGTH:
        return key
    kind, _, _ = key.partition(":")
    return f"{kind}#sha256:{hashlib.sha256(key.encode()).hexdigest()}"


def _fallback_canonical(url: str) -> str:
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return url.strip()
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), parts.path or "/", parts.query, ""))
