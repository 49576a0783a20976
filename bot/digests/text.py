"""Text helpers for digests and alerts: outlets, English lists, lead sentences, safe Markdown.

Feed text is untrusted: before it goes into a Discord message it is escaped so it cannot forge
links, formatting or mentions (a headline containing "@everyone" or "<@&123>" must not ping).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from urllib.parse import urlsplit

from bot.discord_text import discord_length, escape_markdown, fit, link, neutralize_mentions, safe_url

__all__ = [
    "escape_markdown",
    "join_names",
    "lead_sentences",
    "link",
    "neutralize_mentions",
    "outlet_key",
    "safe_url",
]

_SPACES = re.compile(r"\s+")
# Suffixes that name a section or feed of an outlet, not a different outlet:
# "BBC News - World", "Reuters | Business", "The Guardian: Politics".
_SECTION = re.compile(r"\s+(?:[-–—|:»·]\s+).*$")
_GENERIC_WORDS = ("news", "online", "com", "the")
_HOST_PREFIXES = ("www.", "www2.", "m.", "amp.", "feeds.", "feed.", "rss.", "news.")
# Second-level labels under which a country-code domain registers names ("bbc.co.uk").
_SECOND_LEVELS = frozenset(
    ("co", "com", "net", "org", "gov", "ac", "edu", "ne", "or", "go", "gob", "nic", "mil")
)

# A sentence ends at . ! ? (and an optional closing quote or bracket) followed by a space and a
# capital, a digit or an opening quote; the lookbehind rules out common abbreviations.
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"'”’)\]]?\s+(?=[\"“‘(\[]?[A-Z0-9À-Ý])")
_ABBREVIATIONS = frozenset(
    """mr mrs ms dr prof st jr sr gen gov sen rep col lt sgt capt mt ft no nos vs inc ltd co corp
    dept est fig jan feb mar apr jun jul aug sep sept oct nov dec u.s u.k u.n e.g i.e a.m p.m""".split()  # noqa: SIM905
)


def outlet_key(source: str) -> str:
    """A key that is the same for all feeds of one outlet.

    "https://www.bbc.co.uk/news/rss.xml", "feeds.bbc.co.uk" and "bbc.co.uk" give "bbc.co.uk";
    "BBC News", "BBC News - World" and "bbc" give "bbc". A name and a host of the same outlet
    still differ: callers should pass the same kind of source for every article.
    """
    text = source.strip()
    host = _host_of(text)
    if host is not None:
        return _registrable(host)
    name = _SECTION.sub("", _fold(text))
    words = [w for w in re.findall(r"[a-z0-9&+']+", name) if w]
    core = [w for w in words if w not in _GENERIC_WORDS]
    return " ".join(core or words) or text.casefold()


def join_names(names: Sequence[str], *, max_named: int = 3, total: int | None = None) -> str:
    """English list without the Oxford comma: "A", "A and B", "A, B and C", "A, B, C and 4 more".

    Up to ``max_named + 1`` names are all shown: "and 1 more" would save nothing. ``total`` is
    the full count when ``names`` holds only the first few (so callers format only those).
    """
    names = list(names)
    count = max(total or 0, len(names))
    if not names:
        return ""
    if count > max_named + 1 or count > len(names):
        shown = names[:max_named]
        return ", ".join(shown) + f" and {count - len(shown)} more"
    if len(names) == 1:
        return names[0]
    return ", ".join(names[:-1]) + " and " + names[-1]


def lead_sentences(text: str | None, *, max_chars: int = 300, max_sentences: int = 2) -> str:
    """The first one or two sentences of ``text``, at most ``max_chars``, cut at a sentence end.

    A first sentence longer than ``max_chars`` is cut at a word boundary with an ellipsis.
    """
    if not text:
        return ""
    text = _SPACES.sub(" ", text).strip()
    if not text:
        return ""
    sentences = _split_sentences(text)
    out = ""
    for sentence in sentences[:max_sentences]:
        candidate = f"{out} {sentence}".strip()
        if discord_length(candidate) > max_chars:
            break
        out = candidate
    return out or fit(sentences[0], max_chars)


# --- internals ----------------------------------------------------------------


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def _host_of(text: str) -> str | None:
    if "://" in text:
        try:
            host = urlsplit(text).hostname
        except ValueError:
            return None
        return host or None
    # A bare host: no spaces, a dot, and a letter-only last label ("reuters.com", "bbc.co.uk").
    candidate = text.casefold().rstrip("/")
    if " " in candidate or "." not in candidate or "/" in candidate:
        return None
    if re.fullmatch(r"[a-z0-9.-]+\.[a-z]{2,}", candidate):
        return candidate
    return None


def _registrable(host: str) -> str:
    host = host.casefold().rstrip(".")
    for prefix in _HOST_PREFIXES:
        if host.startswith(prefix) and host.count(".") >= 2:
            host = host[len(prefix) :]
    labels = host.split(".")
    if len(labels) >= 3 and len(labels[-1]) == 2 and labels[-2] in _SECOND_LEVELS:
        return ".".join(labels[-3:])
    return ".".join(labels[-2:])


def _split_sentences(text: str) -> list[str]:
    sentences: list[str] = []
    start = 0
    for match in _SENTENCE_END.finditer(text):
        before = text[start : match.start()].rstrip("\"'”’)]")
        last_word = before.rsplit(" ", 1)[-1].rstrip(".!?").casefold()
        # "Mr. Smith", "the U.S. Senate", "J. K. Rowling": not sentence ends.
        if last_word in _ABBREVIATIONS or (len(last_word) == 1 and last_word.isalpha()):
            continue
        sentences.append(text[start : match.start()].strip() + match.group(0).strip())
        start = match.end()
    sentences.append(text[start:].strip())
    return [s for s in sentences if s]
