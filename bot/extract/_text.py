"""Counting words and reading time, for alphabetic and CJK text alike."""

from __future__ import annotations

import math
import re

#: Adults read about 230 words a minute in alphabetic scripts ...
WORDS_PER_MINUTE = 230
#: ... and about 500 characters a minute in Chinese and Japanese, which write no spaces.
CJK_CHARS_PER_MINUTE = 500

# Han, kana and their punctuation-free ranges. Hangul is left out on purpose:
# Korean separates words with spaces, so it is counted like alphabetic text.
_CJK_CHAR = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002fa1f]")
_WORD = re.compile(r"\w+(?:['’.-]\w+)*")


def count_words(text: str) -> tuple[int, int]:
    """``(words, cjk_chars)``: alphabetic words, and Chinese/Japanese characters counted one by one."""
    cjk = len(_CJK_CHAR.findall(text))
    # A run of CJK characters would otherwise count as one long "word".
    words = len(_WORD.findall(_CJK_CHAR.sub(" ", text)))
    return words, cjk


def word_count(text: str) -> int:
    """Words in ``text``, each Chinese/Japanese character counting as one."""
    words, cjk = count_words(text)
    return words + cjk


def reading_minutes(text: str) -> int:
    """Whole minutes to read ``text`` (at least 1)."""
    return minutes_for(*count_words(text))


def minutes_for(words: int, cjk: int) -> int:
    """Whole minutes to read ``words`` words and ``cjk`` Chinese/Japanese characters (at least 1)."""
    return max(1, math.ceil(words / WORDS_PER_MINUTE + cjk / CJK_CHARS_PER_MINUTE))
