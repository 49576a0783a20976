"""Which character encoding a body is in.

Order of evidence, strongest first: a byte-order mark, the HTTP ``charset``,
an in-document declaration (``<meta charset>``, ``http-equiv``, the XML
declaration), then a guess. The guess tries strict UTF-8 first (cheap, and
right for most of the web) and only then charset_normalizer, which is
CPU-heavy: :func:`guess_charset` is meant to run in an executor.
"""

from __future__ import annotations

import codecs
import re

import charset_normalizer

# Labels browsers treat as another encoding (WHATWG Encoding standard): pages
# that say latin-1 are decoded as windows-1252, whose extra characters they
# really use (curly quotes, euro sign).
_WHATWG_ALIASES = {
    "iso8859-1": "cp1252",
    "ascii": "cp1252",
    "iso8859-9": "cp1254",
    "tis-620": "cp874",
    "gb2312": "gb18030",
    "gbk": "gb18030",
}
_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
# Declarations must appear early; browsers look at the first 1024 bytes, we
# are a little more lenient for pages with long <head> comments.
_PRESCAN_BYTES = 4096
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_:.\-]+)""", re.IGNORECASE)
_XML_DECLARATION = re.compile(rb"""^\s*<\?xml[^>]+encoding\s*=\s*["']([A-Za-z0-9_.\-]+)["']""")
_GUESS_SAMPLE_BYTES = 256 * 1024


def normalize_charset(label: str | None) -> str | None:
    """The Python codec name for a charset label, or None if unknown."""
    if not label:
        return None
    try:
        name = codecs.lookup(label.strip().strip("\"'")).name
    except LookupError:
        return None
    return _WHATWG_ALIASES.get(name, name)


def charset_from_content_type(content_type: str | None) -> str | None:
    """The ``charset`` parameter of a Content-Type header, normalized."""
    if not content_type:
        return None
    for parameter in content_type.split(";")[1:]:
        key, _, value = parameter.partition("=")
        if key.strip().lower() == "charset":
            return normalize_charset(value)
    return None


def charset_from_bom(body: bytes) -> str | None:
    for bom, name in _BOMS:
        if body.startswith(bom):
            return name
    return None


def declared_charset(body: bytes) -> str | None:
    """The charset a document declares about itself: ``<meta>`` or the XML declaration."""
    head = body[:_PRESCAN_BYTES]
    match = _XML_DECLARATION.match(head) or _META_CHARSET.search(head)
    if match is None:
        return None
    name = normalize_charset(match.group(1).decode("ascii"))
    # A document that could be read to find its declaration is ASCII-compatible,
    # so a UTF-16 declaration is wrong (the HTML standard says to use UTF-8).
    if name is not None and name.startswith("utf-16"):
        return "utf-8"
    return name


def guess_charset(body: bytes) -> str:
    """Guess the encoding of undeclared text. CPU-bound: call it in an executor."""
    sample = body[:_GUESS_SAMPLE_BYTES]
    try:
        # A cut in the middle of a multi-byte sequence is not evidence against UTF-8.
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=len(sample) == len(body))
    except UnicodeDecodeError:
        pass
    else:
        return "utf-8"
    match = charset_normalizer.from_bytes(sample).best()
    if match is None:
        return "cp1252"  # bytes that fit nothing better: every byte decodes in windows-1252
    return normalize_charset(match.encoding) or "utf-8"


def decode(body: bytes, charset: str | None) -> str:
    """Decode ``body``; undecodable bytes become U+FFFD rather than failing the page."""
    name = normalize_charset(charset) or "utf-8"
    if name == "utf-8" and body.startswith(codecs.BOM_UTF8):
        name = "utf-8-sig"
    return body.decode(name, errors="replace")
