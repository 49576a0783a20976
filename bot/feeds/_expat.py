"""feedparser made to refuse entity declarations, in both of its parsers.

Belt and braces: :func:`bot.feeds._sniff.sniff` refuses such feeds before feedparser is
called. Installed when :mod:`._fallback` is imported: a SAX parser that refuses declarations
(expat), and a DOCTYPE rewriter that refuses to hand the loose parser (used when expat fails)
the entities it would expand. That rewriter finds ``<!ENTITY`` at any line start before the
first element, comments included, where expat sees no declaration: a 109 kB feed declaring one
in a comment expanded to 896 MB through the loose parser.
"""

from __future__ import annotations

from typing import Any
from xml.sax.expatreader import ExpatParser

import feedparser.api

_replace_doctype = feedparser.api.replace_doctype


class EntityDeclaredError(Exception):
    """Not a ``SAXException``: feedparser would catch that and try its loose parser, which
    expands the entities it deems safe; this one ends the parse.
    """


def _refuse(*args: object) -> None:
    raise EntityDeclaredError(
        "This feed declares XML entities, which could be used to exhaust memory "
        "(an entity bomb); it was refused."
    )


class _NoEntityExpatParser(ExpatParser):
    def reset(self) -> None:
        super().reset()
        parser: Any = self._parser  # type: ignore[attr-defined]
        parser.EntityDeclHandler = _refuse
        parser.UnparsedEntityDeclHandler = _refuse


def create_parser(*args: Any, **kwargs: Any) -> ExpatParser:
    """What ``xml.sax.make_parser`` calls on a parser module."""
    return _NoEntityExpatParser(*args, **kwargs)


def _replace_doctype_refusing_entities(data: bytes) -> tuple[str | None, bytes, dict[str, str]]:
    """feedparser's DOCTYPE rewrite, refusing the entities it would give the loose parser."""
    version, rewritten, entities = _replace_doctype(data)
    if entities:
        _refuse()
    return version, rewritten, entities


feedparser.api.PREFERRED_XML_PARSERS = [__name__]
feedparser.api.replace_doctype = _replace_doctype_refusing_entities
