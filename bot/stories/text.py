"""Headline text to index terms: lowercase, strip punctuation and accents, drop stopwords, light stemming.

Numbers and names are kept: "Flight 370", "Fyffes" or "$2.1M" are what tell one story from another.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

__all__ = ["STOPWORDS", "stem", "terms"]

# English function words plus the boilerplate of news headlines ("update", "video", "report"...),
# which appear in every story and would only pull unrelated items together.
_STOPWORDS_TEXT = """
    a about above after again against all also am an and any are as at be because been before being
    below between both but by can could did do does doing down during each few for from further had has
    have having he her here hers herself him himself his how i if in into is it its itself just me more
    most my myself no nor not now of off on once only or other our ours ourselves out over own same she
    should so some such than that the their theirs them themselves then there these they this those
    through to too under until up very was we were what when where which while who whom why will with
    would you your yours yourself yourselves s t don doesn didn isn wasn aren won wont cant can't
    amp quot via says say said new news update updated updates report reports reported video videos
    watch photos photo pictures live latest breaking exclusive first get gets got make makes one two
    may might must shall us vs per
"""
STOPWORDS: frozenset[str] = frozenset(_STOPWORDS_TEXT.split())

# Tokens: runs of letters/digits, keeping in-word dots and commas of numbers ("2.1", "25,000")
# and a leading currency sign, so "$2.1M" stays one term.
_TOKEN = re.compile(r"[$£€]?\d+(?:[.,]\d+)*[a-z]*|[a-z][a-z0-9]*(?:'[a-z]+)?")
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "`": "'", "\u00b4": "'"})


def _fold(text: str) -> str:
    """Lowercase and strip accents ("Beyoncé" and "Beyonce" are the same name)."""
    decomposed = unicodedata.normalize("NFKD", text.translate(_APOSTROPHES).lower())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def stem(word: str) -> str:
    """A light suffix stripper: plurals, possessives, -ing, -ed, -ly.

    Deliberately weaker than Porter: headlines are short, and over-stemming merges names
    ("Sanders" -> "sand") more often than it helps.
    """
    if word.endswith("'s"):
        word = word[:-2]
    word = word.replace("'", "")
    n = len(word)
    if n <= 3 or word[0].isdigit() or word[0] in "$£€":
        return word
    if word.endswith("ies") and n > 4:
        return word[:-3] + "y"
    if word.endswith(("sses", "shes", "ches", "xes")):
        return word[:-2]
    if word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    if word.endswith("ing") and n > 5:
        return _undouble(word[:-3])
    if word.endswith("ied") and n > 4:
        return word[:-3] + "y"
    if word.endswith("ed") and n > 4:
        return _undouble(word[:-2])
    if word.endswith("ly") and n > 5:
        return word[:-2]
    return word


def _undouble(word: str) -> str:
    # "stopping" -> "stopp" -> "stop", but keep "ll"/"ss" ("falling" -> "fall")
    if len(word) > 2 and word[-1] == word[-2] and word[-1] not in "lsz":
        return word[:-1]
    return word


def terms(text: str | None, stopwords: Iterable[str] = STOPWORDS) -> list[str]:
    """The index terms of a text, in order, with repeats."""
    if not text:
        return []
    stop = stopwords if isinstance(stopwords, frozenset | set) else frozenset(stopwords)
    out: list[str] = []
    for token in _TOKEN.findall(_fold(text)):
        if token in stop:
            continue
        if token[0].isdigit() or token[0] in "$£€":
            out.append(token.replace(",", ""))
            continue
        word = stem(token)
        if len(word) > 1 and word not in stop:
            out.append(word)
    return out
