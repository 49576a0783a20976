"""Split long text into pages that fit a length limit, at the most natural boundary."""

from __future__ import annotations

import re

from bot.discord_text import discord_length, prefix_end

_SENTENCE_END = re.compile(r"(?<=[.!?…。！？])\s+")


def split_text(text: str, limit: int) -> list[str]:
    """Split ``text`` into pages of at most ``limit`` UTF-16 units (as Discord limits are checked).

    Pages break between paragraphs where possible, then between sentences,
    then between words; a single word longer than ``limit`` is cut between
    grapheme clusters. Joining the pages with blank lines gives back every word of ``text``.
    """
    if limit < 2:
        raise ValueError("limit must be at least 2 (one astral character)")
    pages: list[str] = []
    current = ""
    for piece in _pieces(text.strip(), limit):
        sep = "\n\n" if piece.startswith("\n\n") else " "
        piece = piece.strip()
        if not current:
            current = piece
        elif discord_length(current) + len(sep) + discord_length(piece) <= limit:
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
        parts = [paragraph] if discord_length(paragraph) <= limit else _split_long(paragraph, limit)
        pieces.append("\n\n" + parts[0])
        pieces.extend(parts[1:])
    return pieces


def _split_long(paragraph: str, limit: int) -> list[str]:
    parts: list[str] = []
    for sentence in _SENTENCE_END.split(paragraph):
        if discord_length(sentence) <= limit:
            parts.append(sentence)
            continue
        for word in sentence.split():
            parts.extend(_chunks(word, limit))
    return parts


def _chunks(word: str, limit: int) -> list[str]:
    """``word`` in pieces of at most ``limit`` units, cut between grapheme clusters."""
    chunks: list[str] = []
    while word:
        end = prefix_end(word, limit) or 1
        # Keep an escaping backslash with the character it escapes.
        run = len(word[:end]) - len(word[:end].rstrip("\\"))
        if run % 2 and end < len(word) and end > 1:
            end -= 1
        chunks.append(word[:end])
        word = word[end:]
    return chunks
