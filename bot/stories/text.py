"""Headline text to index terms: lowercase, strip punctuation and accents, drop stopwords, light stemming.

Numbers and names are kept: "Flight 370", "Fyffes" or "$2.1M" are what tell one story from another.

Every script makes terms (issue 15, point 5). Scripts written without spaces (Han, Kana, Hangul,
Thai, Lao, Khmer, Myanmar) give overlapping character bigrams, what search engines do without a
dictionary; in Japanese a hiragana run (particles, verb endings) is dropped and a katakana word kept
whole. Arabic is normalised (harakat, tatweel, hamza carriers, alef maksura, teh marbuta) and loses
its article; Russian and Greek words lose their commonest case endings. ASCII text takes exactly
the path it always took.
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


# --- other scripts -------------------------------------------------------------------


# Marks that carry meaning rather than an accent: kana voicing (が is not か) and the vowel signs,
# viramas and tone marks of Indic and South-East Asian scripts.
def _keeps_mark(ch: str) -> bool:
    code = ord(ch)
    return (
        code in (0x3099, 0x309A)
        or 0x0900 <= code <= 0x0DFF
        or 0x0E00 <= code <= 0x0EFF
        or (0x1000 <= code <= 0x109F or 0x1780 <= code <= 0x17FF)
    )


# Letters NFKD leaves whole, and Arabic/Persian variants folded as Arabic search engines do.
_LETTERS = str.maketrans(
    {
        "ß": "ss",
        "ø": "o",
        "æ": "ae",
        "œ": "oe",
        "ł": "l",
        "đ": "d",
        "ð": "d",
        "þ": "th",
        "ı": "i",
        "\u0640": "",  # tatweel
        "\u0649": "\u064a",
        "\u06cc": "\u064a",
        "\u06a9": "\u0643",
        "\u0629": "\u0647",
        "\u0671": "\u0627",
    }
)
# Decimal digits of other scripts read as ASCII ("٢٠١٤" is 2014).
for _zero in (0x660, 0x6F0, 0x7C0, 0x966, 0x9E6, 0xA66, 0xAE6, 0xB66, 0xBE6, 0xC66, 0xCE6, 0xD66):
    _LETTERS.update({_zero + d: str(d) for d in range(10)})
for _zero in (0xDE6, 0xE50, 0xED0, 0xF20, 0x1040, 0x17E0, 0x1810):
    _LETTERS.update({_zero + d: str(d) for d in range(10)})


def _fold_scripts(text: str) -> str:
    """Like ``_fold`` for text with non-ASCII letters, keeping the marks that make a different
    letter and recomposing what NFKD split (Hangul syllables, voiced kana)."""
    decomposed = unicodedata.normalize("NFKD", text.translate(_APOSTROPHES).lower())
    kept = "".join(ch for ch in decomposed if not unicodedata.combining(ch) or _keeps_mark(ch))
    return unicodedata.normalize("NFC", kept).translate(_LETTERS)


# The ASCII token, or a run of non-ASCII letters and marks (currency signs stay with their number).
_TOKEN_ANY = re.compile(f"({_TOKEN.pattern})|[^\\x00-\\x7f£€]+")

_HAN, _HIRAGANA, _KATAKANA, _HANGUL, _SEA, _OTHER, _GAP = range(7)


def _script(ch: str) -> int:
    # Letters and marks only: punctuation (、「」・), symbols and unassigned code points separate.
    if not (ch.isalpha() or unicodedata.category(ch)[0] == "M" or ch == "\u3007"):
        return _GAP
    code = ord(ch)
    if code < 0x0E00:
        return _OTHER
    if 0x4E00 <= code <= 0x9FFF or 0x3400 <= code <= 0x4DBF or 0xF900 <= code <= 0xFAFF:
        return _HAN
    if code in (0x3005, 0x3007) or 0x20000 <= code <= 0x3FFFF:
        return _HAN
    if 0x3041 <= code <= 0x309F:
        return _HIRAGANA
    if 0x30A0 <= code <= 0x30FF or 0x31F0 <= code <= 0x31FF:
        return _KATAKANA
    if 0xAC00 <= code <= 0xD7AF or 0x1100 <= code <= 0x11FF or 0x3130 <= code <= 0x318F:
        return _HANGUL
    if code <= 0x0EFF or 0x1000 <= code <= 0x109F or 0x1780 <= code <= 0x17FF:
        return _SEA
    return _OTHER


def _segments(run: str) -> list[tuple[int, str]]:
    """A run of non-ASCII characters cut where the script changes; marks stay with their letter."""
    out: list[tuple[int, str]] = []
    current, start = _GAP, 0
    for i, ch in enumerate(run):
        kind = _script(ch)
        if kind == _OTHER and current != _GAP and unicodedata.category(ch)[0] == "M":
            continue  # a mark belongs to the letter before it, whatever its script
        if kind != current:
            if current != _GAP:
                out.append((current, run[start:i]))
            current, start = kind, i
    if current != _GAP:
        out.append((current, run[start:]))
    return out


def _bigrams(text: str) -> list[str]:
    units: list[str] = []  # letters with their marks (Thai vowels and tones, Indic signs)
    for ch in text:
        if units and unicodedata.category(ch)[0] == "M":
            units[-1] += ch
        else:
            units.append(ch)
    if len(units) == 1:
        return units
    return [units[i] + units[i + 1] for i in range(len(units) - 1)]


def _script_terms(run: str) -> list[str]:
    """The terms of a run of non-ASCII letters (already folded)."""
    out: list[str] = []
    for kind, text in _segments(run):
        if kind == _HIRAGANA:
            continue  # Japanese grammar: particles and verb endings between the words
        if kind == _KATAKANA:
            if text != "\u30fc":  # a lone long-vowel mark
                out.append(text)
        elif kind != _OTHER:
            out.extend(_bigrams(text))
        else:
            if text in OTHER_STOPWORDS:
                continue
            word = _stem_other(text)
            if len(word) > 1 and word not in OTHER_STOPWORDS:
                out.append(word)
    return out


# Function words of Arabic, Persian, Hebrew, Russian, Ukrainian and Greek headlines.
_OTHER_STOPWORDS_TEXT = """
    في من على الى عن ان او مع بعد قبل هذا هذه ذلك التي الذي لا ما كان قد بين حتى عند منذ
    و ب ل از به با که این آن را در
    של את על עם לא כי גם אל זה היא הוא
    и в во не на с со по к ко за из у о об от до для что как это а но или же ли бы то при над под
    про без все его её их она он они мы вы же уже ещё после через
    і й та з що як це але від для
    και το τα της του των τη την ο η οι σε στο στη στην στον με για από να θα δεν που
"""
# Folded as headlines are ("على" is read "علي").
OTHER_STOPWORDS: frozenset[str] = frozenset(_fold_scripts(word) for word in _OTHER_STOPWORDS_TEXT.split())

_ARABIC_PREFIXES = ("وال", "بال", "كال", "فال", "لل", "ال")
# Longest first, so "-ого" goes before "-о".
_CYRILLIC_ENDINGS = (
    *("ами", "ями", "ого", "его", "ому", "ему", "ыми", "ими"),
    *(
        "ой",
        "ей",
        "ий",
        "ый",
        "ая",
        "яя",
        "ое",
        "ее",
        "ые",
        "ие",
        "ам",
        "ям",
        "ах",
        "ях",
        "ом",
        "ем",
        "ов",
        "ев",
    ),
    *"аяоеыиуюь",
)
_GREEK_ENDINGS = ("ου", "ων", "ες", "ας", "ης", "ος", "ον", "α", "η", "ο", "ς")


def _stem_other(word: str) -> str:
    """Light stemming for the inflected alphabets: what a headline's cases change most."""
    first = ord(word[0])
    if 0x0600 <= first <= 0x06FF:
        for prefix in _ARABIC_PREFIXES:
            if word.startswith(prefix) and len(word) - len(prefix) >= 2:
                return word[len(prefix) :]
        return word
    if 0x0400 <= first <= 0x04FF and len(word) > 4:
        for ending in _CYRILLIC_ENDINGS:
            if word.endswith(ending) and len(word) - len(ending) >= 3:
                return word[: -len(ending)]
    if 0x0370 <= first <= 0x03FF and len(word) > 4:
        for ending in _GREEK_ENDINGS:
            if word.endswith(ending) and len(word) - len(ending) >= 3:
                return word[: -len(ending)]
    return word


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
    folded = _fold(text)
    if folded.isascii():
        return _latin_terms(_TOKEN.findall(folded), stop)
    out: list[str] = []
    for match in _TOKEN_ANY.finditer(_fold_scripts(text)):
        if match.group(1) is not None:
            out.extend(_latin_terms([match.group(1)], stop))
        else:
            out.extend(_script_terms(match.group()))
    return out


def _latin_terms(tokens: list[str], stop: frozenset[str] | set[str]) -> list[str]:
    out: list[str] = []
    for token in tokens:
        if token in stop:
            continue
        if token[0].isdigit() or token[0] in "$£€":
            out.append(token.replace(",", ""))
            continue
        word = stem(token)
        if len(word) > 1 and word not in stop:
            out.append(word)
    return out
