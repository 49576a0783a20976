"""Content types: which ones a caller accepts, and how to name the others to a user."""

from __future__ import annotations

import functools

HTML_TYPES: frozenset[str] = frozenset({"text/html", "application/xhtml+xml"})
FEED_TYPES: frozenset[str] = frozenset(
    {
        "application/rss+xml",
        "application/x-rss+xml",
        "application/atom+xml",
        "application/x-atom+xml",
        "application/rdf+xml",
        "application/xml",
        "text/xml",
        "application/feed+json",
        "application/json",
        "text/plain",  # misconfigured servers send feeds as plain text; the parser decides
    }
)

_NAMES = {
    "application/pdf": "a PDF document",
    "application/zip": "a ZIP archive",
    "application/gzip": "a compressed archive",
    "application/x-gzip": "a compressed archive",
    "application/x-tar": "an archive",
    "application/x-7z-compressed": "an archive",
    "application/x-rar-compressed": "an archive",
    "application/vnd.rar": "an archive",
    "application/msword": "a Word document",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "a Word document",
    "application/vnd.ms-excel": "a spreadsheet",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "a spreadsheet",
    "application/vnd.ms-powerpoint": "a presentation",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": "a presentation",
    "application/octet-stream": "a binary file",
    "application/json": "JSON data",
    "application/javascript": "a script",
    "text/javascript": "a script",
    "text/css": "a style sheet",
    "text/plain": "plain text",
    "text/csv": "a CSV file",
}
_FAMILIES = {"image": "an image", "video": "a video", "audio": "an audio file", "font": "a font"}
_FEED_NAMES = {
    "application/rss+xml",
    "application/x-rss+xml",
    "application/atom+xml",
    "application/x-atom+xml",
    "application/rdf+xml",
    "application/feed+json",
}

# Leading bytes of formats people link to by mistake, for servers that label them wrongly.
_MAGIC = (
    (b"%PDF-", "application/pdf"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"PK\x03\x04", "application/zip"),
    (b"\x1f\x8b", "application/gzip"),
)


def media_type(content_type: str | None) -> str | None:
    """``text/html; charset=utf-8`` -> ``text/html``; None when absent or malformed."""
    if not content_type:
        return None
    value = content_type.split(";", 1)[0].strip().lower()
    return value if "/" in value else None


def sniff_media_type(body: bytes) -> str | None:
    """The type of a known binary format from its first bytes, or None."""
    for magic, kind in _MAGIC:
        if body.startswith(magic):
            return kind
    if body[8:12] == b"WEBP" and body.startswith(b"RIFF"):
        return "image/webp"
    return None


def describe(kind: str) -> str:
    """A user-facing name for a media type: ``application/pdf`` -> ``a PDF document``."""
    if kind in _NAMES:
        return _NAMES[kind]
    if kind in _FEED_NAMES:
        return "a feed"
    if kind.endswith("+xml") or kind.endswith("/xml"):
        return "an XML document"
    if kind in HTML_TYPES:
        return "a web page"
    family = kind.partition("/")[0]
    return _FAMILIES.get(family, f"a file of type {kind}")


def wanted(accept_types: frozenset[str]) -> str:
    """What the caller was looking for, to finish the sentence "..., not ___"."""
    return "a web page" if accept_types & HTML_TYPES else "a feed"


@functools.lru_cache(maxsize=32)
def accept_header(accept_types: frozenset[str]) -> str:
    return ", ".join([*sorted(accept_types), "*/*;q=0.1"])
