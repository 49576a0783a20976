"""The expat reader feedparser parses with, made to refuse entity declarations.

Belt and braces: :func:`bot.feeds._sniff.sniff` refuses such feeds before feedparser is
called. Installed as feedparser's preferred SAX parser when :mod:`._fallback` is imported.
"""

from __future__ import annotations

from typing import Any
from xml.sax.expatreader import ExpatParser

import feedparser.api


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


feedparser.api.PREFERRED_XML_PARSERS = [__name__]
