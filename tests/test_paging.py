"""Splitting long text into Discord-sized pages."""

from __future__ import annotations

import pytest

from bot.paging import split_text, truncate


def _words(text: str) -> list[str]:
    return text.split()


@pytest.mark.parametrize("limit", [20, 50, 200, 4000])
def test_pages_fit_and_keep_every_word(limit: int) -> None:
    text = "\n\n".join(
        f"Paragraph {i}. " + " ".join(f"word{i}_{j}" for j in range(i * 7)) + ". The end." for i in range(30)
    )
    pages = split_text(text, limit)
    assert all(0 < len(p) <= limit for p in pages)
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


def test_truncate_at_word_boundary() -> None:
    assert truncate("short", 10) == "short"
    cut = truncate("the quick brown fox jumps over", 16)
    assert len(cut) <= 16 and cut.endswith("…") and cut == "the quick brown…"
