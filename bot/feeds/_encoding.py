"""The character encoding of a feed body, settled before any parser reads it.

The entity-bomb guard (:mod:`._sniff`) reads markup as ASCII bytes. That is what the parsers
read only when every ASCII character is its own single byte in the encoding they pick: true of
UTF-8, ISO-8859-*, the Windows code pages and the East Asian multi-byte encodings, false of
UTF-16/32, EBCDIC (cp037, cp500, cp1140, cp273, cp875, cp424...), UTF-7 and the stateful
ISO-2022 and HZ, where "<!ENTITY" is other bytes. So, before any parser:

- UTF-16/32 (with a BOM, or recognised by the NULs around the first characters, as XML's
  appendix F does) is transcoded to UTF-8, its declaration rewritten;
- any other encoding the XML declaration or the Content-Type names must be one of
  :data:`ASCII_BASED`, else the feed is refused, as is a body that starts as EBCDIC or UTF-7.

Refused rather than decoded as each parser would: libxml2 (with iconv's aliases), feedparser
(its RFC 3023 order, fallbacks and chardet when installed) and expat each choose their own way,
and any difference would be a way past the guard. Browsers support none of these encodings (the
WHATWG Encoding Standard leaves them out), so no feed a site publishes needs them.
"""

from __future__ import annotations

import codecs
import functools
import re

from bot.errors import FeedParseError

# Python's names for the encodings that are safe to read as ASCII bytes: every byte below 0x80
# is that ASCII character, and no multi-byte sequence hides one of "<!>-?" (Shift_JIS, Big5
# and GBK trail bytes start at 0x40; GB18030's four-byte forms use digits). Checked by
# tests/test_feed_bombs.py, which decodes all ASCII bytes with each.
ASCII_BASED = frozenset(
    codecs.lookup(name).name
    for name in (
        "utf-8", "ascii", "latin-1",
        *(f"iso8859-{n}" for n in (2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 14, 15, 16)),
        *(f"cp125{n}" for n in range(9)),
        "cp437", "cp720", "cp737", "cp775", "cp850", "cp852", "cp855", "cp857", "cp858",
        "cp860", "cp861", "cp862", "cp863", "cp865", "cp866", "cp869", "cp874",
        "cp1125", "koi8-r", "koi8-u", "koi8-t", "kz1048", "ptcp154", "tis-620",
        "mac-roman", "mac-cyrillic", "mac-greek", "mac-iceland", "mac-latin2", "mac-turkish",
        "shift_jis", "cp932", "euc_jp", "euc_jis_2004",
        "euc_jisx0213", "euc_kr", "cp949", "gb2312", "gbk", "gb18030", "big5", "big5hkscs",
        "cp950",
    )
)  # fmt: skip

# Labels browsers use (WHATWG) that Python does not know, for encodings it does.
_ALIASES = {
    "x-sjis": "shift_jis",
    "windows-31j": "cp932",
    "ms_kanji": "cp932",
    "x-euc-jp": "euc_jp",
    "x-gbk": "gbk",
    "gb_2312-80": "gb2312",
    "windows-874": "cp874",
    "iso-8859-8-i": "iso8859-8",
    "x-mac-roman": "mac-roman",
    "x-mac-cyrillic": "mac-cyrillic",
    "x-x-big5": "big5",
}

_UNICODE_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),  # before UTF-16's, which it starts with
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
# "<?xm" in EBCDIC (what libxml2 and feedparser detect), the UTF-EBCDIC and UTF-7 BOMs.
_FOREIGN_STARTS = {
    b"\x4c\x6f\xa7\x94": "EBCDIC",
    b"\xdd\x73\x66\x73": "UTF-EBCDIC",
    **{b"+/v" + end: "UTF-7" for end in (b"8", b"9", b"+", b"/")},
}
_UTF16_32 = re.compile(r"utf-?(16|32)|ucs-?[24]|iso-10646-ucs-[24]|csunicode", re.I)
_DECLARATION = re.compile(rb"\A(?:\xef\xbb\xbf)?\s*<\?xml\s[^>]*?\bencoding\s*=\s*([\"'])([^\"'>]*)\1")
_DECLARATION_TEXT = re.compile(r"\A(\ufeff?\s*<\?xml\s[^>]*?\bencoding\s*=\s*)([\"'])[^\"'>]*\2")
_SPACE = re.compile(rb"\s*")
_CHARSET = re.compile(r";\s*charset\s*=\s*[\"']?([^\"';\s]+)", re.I)


def normalise(body: bytes, content_type: str | None) -> bytes:
    """``body`` as every parser will read it the way the guard does: UTF-16/32 as UTF-8.

    Raises :class:`FeedParseError` for a feed in an encoding that is not ASCII-based.
    """
    unicode = _unicode_encoding(body)
    if unicode is not None:
        codec, bom = unicode
        try:
            text = body[bom:].decode(codec)
        except UnicodeDecodeError as e:
            raise FeedParseError(f"This feed is not valid {codec.upper()[:6]}: {e.reason}.") from e
        return _declare_utf8(text).encode("utf-8")
    start = _SPACE.match(body).end()  # type: ignore[union-attr]  # it matches the empty string
    foreign = _FOREIGN_STARTS.get(body[start : start + 4])
    if foreign is not None:
        raise _unsupported(foreign)
    declared = declared_encoding(body)
    if declared is not None and _UTF16_32.fullmatch(declared):
        # Labelled UTF-16 but written in ASCII bytes (servers do): read it as what it is.
        return _declare_utf8(body.decode("latin-1")).encode("latin-1")
    if declared is not None and ascii_based(declared) is not True:
        raise _unsupported(repr(declared))
    charset = header_charset(content_type)
    # An unknown charset label only feedparser would see, and it is not given it (see
    # ``text_encodings``); a UTF-16 label on ASCII bytes is the same mislabelling as above.
    if charset is not None and ascii_based(charset) is False and not _UTF16_32.fullmatch(charset):
        raise _unsupported(repr(charset))
    return body


def to_utf8(body: bytes, content_type: str | None) -> bytes:
    """A :func:`normalise` d body as UTF-8, its declaration saying so: decoded as feedparser
    would (RFC 3023: the Content-Type's charset, the declaration's, then its fallbacks), but
    only ever with ASCII-based encodings, and handed to it with nothing left to guess.
    """
    proposed = [header_charset(content_type), declared_encoding(body), "utf-8", "cp1252"]
    names = [_python_name(label) for label in proposed if label and ascii_based(label)]
    for name in dict.fromkeys(names):
        try:
            text = body.decode(name or "utf-8")
        except UnicodeDecodeError:
            continue
        break
    else:
        text = body.decode("latin-1")  # every byte is a character: feedparser's last resort too
    return _declare_utf8(text).encode("utf-8")


def declared_encoding(body: bytes) -> str | None:
    """The encoding the XML declaration at the start of ``body`` names, as written."""
    match = _DECLARATION.match(body)
    return match.group(2).decode("latin-1").strip() if match else None


def header_charset(content_type: str | None) -> str | None:
    match = _CHARSET.search(content_type or "")
    return match.group(1) if match else None


@functools.lru_cache(maxsize=256)
def ascii_based(label: str) -> bool | None:
    """Whether the encoding called ``label`` is one of :data:`ASCII_BASED`; ``None`` when
    Python does not know it.
    """
    name = _python_name(label)
    return None if name is None else name in ASCII_BASED


def _python_name(label: str) -> str | None:
    label = label.strip().lower()
    try:
        return codecs.lookup(_ALIASES.get(label, label)).name
    except LookupError:
        return None


def _unicode_encoding(data: bytes) -> tuple[str, int] | None:
    """The UTF-16/32 form of ``data`` and the length of its BOM, if it is one."""
    for bom, codec in _UNICODE_BOMS:
        if data.startswith(bom):
            return codec, len(bom)
    head = data[:4]
    if len(head) < 4:
        return None
    # Without a BOM: an ASCII character ("<" or a space) with NULs around it.
    if head[0] and not any(head[1:]):
        return "utf-32-le", 0
    if head[3] and not any(head[:3]):
        return "utf-32-be", 0
    if head[0] and head[2] and not head[1] and not head[3]:
        return "utf-16-le", 0
    if head[1] and head[3] and not head[0] and not head[2]:
        return "utf-16-be", 0
    return None


def _declare_utf8(text: str) -> str:
    return _DECLARATION_TEXT.sub(r"\1\2UTF-8\2", text, count=1)


def _unsupported(encoding: str) -> FeedParseError:
    return FeedParseError(
        f"This feed is written in the character encoding {encoding}, which newsdesk does not "
        "read (only ASCII-based encodings such as UTF-8, ISO-8859 and Windows code pages, or "
        "UTF-16/32): it was refused."
    )
