"""The template language: literal text with ``{placeholder}`` slots and ``{{``/``}}`` for braces.

No expressions, no filters, no code: a template is parsed once into literal and slot pieces
(:func:`parse`), and rendering is one pass over them. An unknown placeholder or a lone brace is
a :class:`TemplateError` naming it, raised when the template is saved.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.errors import NewsdeskError

#: Every placeholder, with what it stands for (shown in errors and help).
PLACEHOLDERS: dict[str, str] = {
    "title": "the item's headline",
    "link": "the item's address",
    "summary": "a short summary",
    "author": "the item's author",
    "published": "when it was published (shown in each reader's time zone)",
    "source": "the outlet's name (feed title, else its site)",
    "feed_title": "the feed's title",
    "categories": "the item's categories, comma-separated",
    "image": "the item's image address",
    "article_text": "the extracted article's text (extract:true)",
    "reading_time": "the extracted article's reading time (extract:true)",
}

#: Longest template part accepted (characters): a template is a layout, not an article.
MAX_TEMPLATE_CHARS = 2000


class TemplateError(NewsdeskError):
    """A template that cannot be saved; the message says what is wrong, fit to show a user."""


@dataclass(frozen=True, slots=True)
class Slot:
    """A ``{name}`` in a template."""

    name: str


#: A parsed template: literal strings and slots, in order.
Pieces = tuple[str | Slot, ...]


def parse(text: str, *, part: str = "template") -> Pieces:
    """``text`` as pieces; :class:`TemplateError` naming the first problem. Linear in ``text``."""
    if len(text) > MAX_TEMPLATE_CHARS:
        raise TemplateError(f"The {part} is {len(text)} characters long; the limit is {MAX_TEMPLATE_CHARS}.")
    pieces: list[str | Slot] = []
    literal: list[str] = []
    i, n = 0, len(text)
    while i < n:
        char = text[i]
        if char == "{":
            if text.startswith("{{", i):
                literal.append("{")
                i += 2
                continue
            end = text.find("}", i + 1)
            inner_open = text.find("{", i + 1)
            if end < 0 or (0 <= inner_open < end):
                raise TemplateError(
                    f"The {part} has a `{{` at character {i + 1} that is never closed "
                    "(write `{{` for a literal brace)."
                )
            name = text[i + 1 : end].strip()
            if name not in PLACEHOLDERS:
                shown = name[:40] or "(empty)"
                raise TemplateError(
                    f"The {part} uses an unknown placeholder `{{{shown}}}`. Known: "
                    + ", ".join(f"`{{{p}}}`" for p in PLACEHOLDERS)
                    + "."
                )
            if literal:
                pieces.append("".join(literal))
                literal = []
            pieces.append(Slot(name))
            i = end + 1
        elif char == "}":
            if text.startswith("}}", i):
                literal.append("}")
                i += 2
                continue
            raise TemplateError(
                f"The {part} has a `}}` at character {i + 1} without an opening `{{` "
                "(write `}}` for a literal brace)."
            )
        else:
            # Copy the run of plain text up to the next brace at once.
            stop = min((p for p in (text.find("{", i), text.find("}", i)) if p >= 0), default=n)
            literal.append(text[i:stop])
            i = stop
    if literal:
        pieces.append("".join(literal))
    return tuple(pieces)


def literal_length(pieces: Pieces) -> int:
    """Characters of the template's own text (placeholders not counted)."""
    return sum(len(p) for p in pieces if isinstance(p, str))


def slots(pieces: Pieces) -> set[str]:
    """The placeholders ``pieces`` use."""
    return {p.name for p in pieces if isinstance(p, Slot)}
