"""Splitting long text into Discord-sized pages."""

from __future__ import annotations

import pytest

from bot.discord_text import discord_length, fit
from bot.paging import split_text


def _words(text: str) -> list[str]:
    return text.split()


@pytest.mark.parametrize("limit", [20, 50, 200, 4000])
def test_pages_fit_and_keep_every_word(limit: int) -> None:
    text = "\n\n".join(
        f"Paragraph {i}. " + " ".join(f"word{i}_{j}" for j in range(i * 7)) + ". The end." for i in range(30)
    )
    pages = split_text(text, limit)
    assert all(0 < discord_length(p) <= limit for p in pages)
    assert _words(" ".join(pages)) == _words(text)


def test_breaks_between_paragraphs_first() -> None:
    text = "First paragraph here.\n\nSecond paragraph here."
    assert split_text(text, 25) == ["First paragraph here.", "Second paragraph here."]
    assert split_text(text, 100) == [text]


def test_overlong_word_is_cut() -> None:
    pages = split_text("x" * 25, 10)
    assert pages == ["x" * 10, "x" * 10, "x" * 5]


def test_empty_text_has_no_pages() -> None:
    assert split_text("  \n\n ", 10) == []


def test_fit_at_word_boundary() -> None:
    assert fit("short", 10) == "short"
    cut = fit("the quick brown fox jumps over", 16)
    assert len(cut) <= 16 and cut.endswith("…") and cut == "the quick brown…"


def test_pages_are_measured_in_utf16_units_and_keep_emoji_whole() -> None:
    # 3000 astral emoji are 6000 UTF-16 units: as code points they would fit one 3800 page.
    text = " ".join(["🙂" * 5] * 500) + " " + "👨‍👩‍👧‍👦" * 40
    pages = split_text(text, 3800)
    assert len(pages) >= 2
    assert all(discord_length(p) <= 3800 for p in pages)
    assert "".join(pages).replace(" ", "") == text.replace(" ", "")
    # An enormous "word" of family emoji (ZWJ sequences) is cut between sequences.
    chunks = split_text("👨‍👩‍👧‍👦" * 40, 50)
    assert all(c.count("👨‍👩‍👧‍👦") * len("👨‍👩‍👧‍👦") == len(c) for c in chunks)


def test_a_page_never_ends_on_an_escaping_backslash() -> None:
    pages = split_text("\\*" * 30, 9)
    assert all((len(p) - len(p.rstrip("\\"))) % 2 == 0 for p in pages), pages
    assert "".join(pages) == "\\*" * 30
