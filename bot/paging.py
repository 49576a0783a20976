"""Split long text into pages that fit a length limit, at the most natural boundary."""

from __future__ import annotations

import re

_SENTENCE_END = re.compile(r"(?<=[.!?…。！？])\s+")


def split_text(text: str, limit: int) -> list[str]:
    """Split ``text`` into pages of at most ``limit`` characters.

    Pages break between paragraphs where possible, then between sentences,
    then between words; a single word longer than ``limit`` is cut.
    Joining the pages with blank lines gives back every word of ``text``.
    """
    if limit < 1:
        raise ValueError("limit must be positive")
    pages: list[str] = []
    current = ""
    for piece in _pieces(text.strip(), limit):
        sep = "\n\n" if piece.startswith("\n\n") else " "
        piece = piece.strip()
        if not current:
            current = piece
        elif len(current) + len(sep) + len(piece) <= limit:
            current += sep + piece
        else:
            pages.append(current)
            current = piece
    if current:
        pages.append(current)
    return pages


def _pieces(text: str, limit: int) -> list[str]:
    """Paragraphs no longer than ``limit``; a piece that opens a paragraph starts with "\\n\\n"."""
    pieces: list[str] = []
    for paragraph in re.split(r"\n\s*\n", text):
        paragraph = paragraph.strip()
        if not paragraph:
            continue
        parts = [paragraph] if len(paragraph) <= limit else _split_long(paragraph, limit)
        pieces.append("\n\n" + parts[0])
        pieces.extend(parts[1:])
    return pieces


def _split_long(paragraph: str, limit: int) -> list[str]:
    parts: list[str] = []
    for sentence in _SENTENCE_END.split(paragraph):
        if len(sentence) <= limit:
            parts.append(sentence)
            continue
        for word in sentence.split():
            parts.extend(word[i : i + limit] for i in range(0, len(word), limit))
    return parts


def truncate(text: str, limit: int, *, ellipsis: str = "…") -> str:
    """``text`` cut at a word boundary to at most ``limit`` characters, with an ellipsis if cut."""
    text = text.strip()
    if len(text) <= limit:
        return text
    cut = text[: limit - len(ellipsis)]
    space = cut.rfind(" ")
    ends_on_word = text[len(cut)].isspace()
    if not ends_on_word and space > limit // 2:
        cut = cut[:space]
    return cut.rstrip(" ,;:-") + ellipsis
