"""Extractive summaries: two or three sentences of the article itself, no network.

News is written lead first, so the first real sentence is kept and the others are
chosen by how central their words are to the text, with a bias towards the start.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import islice


def _wordset(words: str) -> frozenset[str]:
    return frozenset(words.split())


#: Default length limit of a summary; a Discord embed description holds 4,096.
MAX_SUMMARY_CHARS = 500
_MAX_CANDIDATES = 40

# Abbreviations after which a period does not end a sentence ("Mr. Smith", "Jan. 5").
_ABBREVIATIONS = _wordset(
    """
    mr mrs ms mx dr prof sr jr st mt ft gen gov sen rep rev lt col capt cpt sgt maj adm cmdr pres supt
    hon messrs mme mlle inc ltd co corp bros dept univ assn est approx vs etc al fig figs no nos vol
    vols pp ed eds jan feb mar apr jun jul aug sep sept oct nov dec mon tue tues wed thu thur thurs
    fri sat sun ave blvd rd hwy ariz calif colo conn fla ga ill ind kan ky la md mass mich minn miss
    mo mont neb nev okla ore pa tenn tex va vt wash wis wyo
    """
)
# After a dotted acronym ("U.S.", "a.m.") a sentence ends only when a typical opener follows.
_SENTENCE_OPENERS = _wordset(
    """
    a an the this that these those it its he she they we i you his her their our my there here
    but and so yet however meanwhile still also in on at for after before when while if as since
    what who why how where mr mrs ms dr
    """
)
_STOPWORDS = _wordset(
    """
    a an the and or but if then so of to in on at by for with from as into about over after before
    is are was were be been being am do does did has have had having it its this that these those
    he she they we i you him her them us me his their our my your not no yes can could would should
    will shall may might must also just than too very more most such there here what which who whom
    whose when where why how all any both each few other some own same only said says say one two
    """
)

# A candidate sentence end: terminal punctuation, optional closing quotes or
# brackets, then whitespace. Chinese/Japanese full stops need no whitespace.
_BOUNDARY = re.compile(r"""([.!?…]+["'”’)\]]*)\s+|([。！？]+[」』”’)]*)""")
_TOKEN = re.compile(r"\w+", re.UNICODE)
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]")
# Sentences that are page furniture rather than article prose.
_JUNK = re.compile(
    r"^(?:photo|image|picture|credit|source|file|caption|advertisement|related|read more|click|"
    r"subscribe|sign up|follow us|share this|copyright|©)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class _Sentence:
    index: int
    text: str
    tokens: tuple[str, ...]


def split_sentences(text: str) -> list[str]:
    """Split ``text`` into sentences; paragraph breaks always end one."""
    return list(_sentences(text))


def _sentences(text: str) -> Iterator[str]:
    """:func:`split_sentences`, one at a time: a summary reads only the first ones."""
    for paragraph in re.split(r"\n+", text):
        yield from filter(None, _split_paragraph(paragraph.strip()))


def _split_paragraph(paragraph: str) -> list[str]:
    out: list[str] = []
    start = 0
    for match in _BOUNDARY.finditer(paragraph):
        end = match.end(1) if match.group(1) else match.end(2)
        if match.group(1) and not _ends_sentence(
            paragraph[start : match.start(1)], match.group(1), paragraph[match.end() :]
        ):
            continue
        out.append(paragraph[start:end].strip())
        start = match.end()
    out.append(paragraph[start:].strip())
    return out


def _ends_sentence(before: str, punct: str, after: str) -> bool:
    """Whether ``punct`` between ``before`` and ``after`` closes a sentence."""
    if not after:
        return True
    first = after.lstrip("\"'“‘([")[:1]
    # "e.g. some", "“Stop!” she said": a sentence goes on in lower case.
    if first and first.islower():
        return False
    if punct[0] != ".":
        return True
    last_word = before.rsplit(None, 1)[-1] if before.split() else ""
    bare = last_word.lstrip("\"'“‘([").lower()
    if bare in _ABBREVIATIONS:
        return False
    # An initial: "J. K. Rowling", "George W. Bush".
    if len(bare) == 1 and bare.isalpha():
        return False
    # A dotted acronym such as "U.S." or "a.m.": a new sentence only if a typical opener follows.
    if re.fullmatch(r"(?:[a-z]\.)+[a-z]", bare):
        next_word = _TOKEN.match(after.lstrip("\"'“‘(["))
        return next_word is not None and next_word.group(0).lower() in _SENTENCE_OPENERS
    return True


def _tokens(sentence: str) -> tuple[str, ...]:
    words = [w for w in _TOKEN.findall(sentence.lower()) if w not in _STOPWORDS and not w.isdigit()]
    # Chinese and Japanese have no spaces: their characters stand in for words.
    return tuple(t for w in words for t in (_CJK.findall(w) if _CJK.search(w) else [w]))


def _size(sentence: str) -> int:
    """Length in words, a CJK character counting as half a word."""
    cjk = len(_CJK.findall(sentence))
    return len(_TOKEN.findall(_CJK.sub(" ", sentence))) + cjk // 2


def _is_candidate(sentence: str) -> bool:
    size = _size(sentence)
    return (
        5 <= size <= 70
        and not _JUNK.match(sentence)
        and not sentence.rstrip().endswith(":")
        # Headings and kickers in capitals.
        and not (sentence.isupper() and len(sentence) > 3)
    )


def summarize(text: str, *, max_sentences: int = 3, max_chars: int = MAX_SUMMARY_CHARS) -> str:
    """Two or three sentences of ``text``, in their original order, within ``max_chars``.

    The lead sentence is kept; the others are the most central of the rest,
    weighted towards the start. Text without usable sentences is cut to length.
    """
    if max_sentences < 1 or max_chars < 1:
        raise ValueError("max_sentences and max_chars must be positive")
    # The lead bias makes late sentences unlikely picks; not scoring them keeps long texts cheap.
    all_sentences = list(islice(_sentences(text), _MAX_CANDIDATES))
    candidates = [_Sentence(i, s, _tokens(s)) for i, s in enumerate(all_sentences) if _is_candidate(s)]
    if not candidates:
        return _truncate(" ".join(all_sentences), max_chars)

    frequencies = Counter(t for s in candidates for t in set(s.tokens))

    def score(s: _Sentence) -> float:
        if not s.tokens:
            return 0.0
        centrality = sum(frequencies[t] for t in s.tokens) / (len(s.tokens) * len(candidates))
        lead_bias = 1.0 / math.sqrt(1 + s.index)
        return centrality + lead_bias

    chosen = [candidates[0]]
    length = len(candidates[0].text)
    for s in sorted(candidates[1:], key=score, reverse=True):
        if len(chosen) >= max_sentences:
            break
        if length + 1 + len(s.text) <= max_chars:
            chosen.append(s)
            length += 1 + len(s.text)
    chosen.sort(key=lambda s: s.index)
    summary = " ".join(s.text for s in chosen)
    return _truncate(summary, max_chars)


def _truncate(text: str, max_chars: int) -> str:
    text = " ".join(text.split())
    if len(text) <= max_chars:
        return text
    cut = text[: max_chars - 1]
    if " " in cut:
        cut = cut.rsplit(" ", 1)[0]
    return cut.rstrip(" ,;:") + "…"
