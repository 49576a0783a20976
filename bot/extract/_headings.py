"""Putting back the article's subheadings that trafilatura's fallback leaves out.

When a page has no container trafilatura recognises as the article (no ``article``,
no content-like ``div``: paragraphs and ``h2``/``h3`` straight under ``body`` or a
plain ``div``), it gathers the page's loose paragraphs and drops the headings
between them, so the text reads as a wall of paragraphs without its section titles.
Inside a recognised container it keeps them, each as a paragraph of its own.

A heading is put back only where it sits between two paragraphs that follow each
other in the extracted text, both in the page and in the text: that is where the
article has it. Headings of navigation, sidebars, footers and comment sections sit
next to text that is not in the extraction (or at its ends), so they stay out.
"""

from __future__ import annotations

import re

from lxml.html import HtmlElement

from bot.extract._clean import is_teaser_heading

_SUBHEADING_TAGS = ("h2", "h3", "h4")
# The elements whose text trafilatura turns into a paragraph (or a heading) of its own,
# in page order: a subheading's neighbours are looked for among them.
_BLOCK_TAGS = (
    *("p", "h1", "h2", "h3", "h4", "h5", "h6"),
    *("li", "blockquote", "pre", "dd", "dt", "figcaption", "td"),
)
# A subheading is a title, not a sentence.
_MAX_SUBHEADING_WORDS = 20
# Headings of the page's furniture, in case one lands between two article paragraphs
# ("Related" teasers are is_teaser_heading's).
_FURNITURE_HEADING = re.compile(
    r"^(?:\d+\s+)?(?:comments?|responses?|replies|discussion|join\s+the\s+(?:conversation|discussion)"
    r"|leave\s+a\s+(?:comment|reply)|(?:sign\s+up\s+(?:for|to)\s+)?(?:our\s+|the\s+)?newsletters?\b.*"
    r"|subscribe\b.*|share(?:\s+this(?:\s+\w+)?)?|follow\s+us\b.*|advertisement|sponsored(?:\s+content)?"
    r"|tags?|topics?|about\s+(?:us|the\s+authors?)|contact(?:\s+us)?)(?:\s*\(\d+\))?[\s:.!|-]*$",
    re.IGNORECASE,
)


def with_subheadings(paragraphs: list[str], tree: HtmlElement) -> list[str]:
    """``paragraphs`` (the extracted text's) with the subheadings of ``tree`` they lack put back
    in their place."""
    present = set(paragraphs)
    missing = [h for h in tree.iter(*_SUBHEADING_TAGS) if _is_subheading(h, _text(h), present)]
    if not missing:
        return paragraphs  # the usual case: none, or trafilatura kept them all
    # Where each paragraph is in the text; a paragraph found twice is no landmark.
    position: dict[str, int] = {}
    for index, paragraph in enumerate(paragraphs):
        position[paragraph] = -1 if paragraph in position else index
    blocks = list(tree.iter(*_BLOCK_TAGS))
    order = {block: index for index, block in enumerate(blocks)}
    insertions: dict[int, list[str]] = {}
    last_run_end = -1
    for heading in missing:
        if order[heading] <= last_run_end:
            continue  # in the run of the heading before it
        before, run, after, last_run_end = _run_around(blocks, order[heading])
        if before is None or after is None or _contains(before, run[0]):
            continue
        at = position.get(_text(before), -1)
        if at < 0 or position.get(_text(after)) != at + 1:
            continue  # not between two paragraphs that follow each other in the text
        titles = [_text(h) for h in run]
        if all(_is_subheading(h, t, present) for h, t in zip(run, titles, strict=True)):
            insertions[at + 1] = titles
    if not insertions:
        return paragraphs
    result: list[str] = []
    for index, paragraph in enumerate(paragraphs):
        result.extend(insertions.get(index, ()))
        result.append(paragraph)
    return result


def _run_around(
    blocks: list[HtmlElement], index: int
) -> tuple[HtmlElement | None, list[HtmlElement], HtmlElement | None, int]:
    """The run of headings around ``blocks[index]`` (a heading): ``(text block before, headings,
    text block after, index of the run's last block)``. Blocks without text are skipped."""
    first = last = index
    while first > 0 and _is_heading_or_blank(blocks[first - 1]):
        first -= 1
    while last + 1 < len(blocks) and _is_heading_or_blank(blocks[last + 1]):
        last += 1
    run = [b for b in blocks[first : last + 1] if b.tag in _SUBHEADING_TAGS and _has_text(b)]
    before = blocks[first - 1] if first > 0 else None
    after = blocks[last + 1] if last + 1 < len(blocks) else None
    return before, run, after, last


def _is_heading_or_blank(block: HtmlElement) -> bool:
    return block.tag in _SUBHEADING_TAGS or not _has_text(block)


def _is_subheading(heading: HtmlElement, text: str, present: set[str]) -> bool:
    """An article's own section title, missing from the text: short, not a link (another
    story's headline), not a block title of the page's furniture."""
    return (
        bool(text)
        and text not in present
        and len(text.split()) <= _MAX_SUBHEADING_WORDS
        and heading.find(".//a[@href]") is None
        and not is_teaser_heading(text)
        and not _FURNITURE_HEADING.match(text)
    )


def _contains(ancestor: HtmlElement, element: HtmlElement) -> bool:
    return any(a is ancestor for a in element.iterancestors())


def _has_text(element: HtmlElement) -> bool:
    return any(not chunk.isspace() for chunk in element.itertext() if chunk)


def _text(element: HtmlElement) -> str:
    """The element's text as the extracted paragraphs have it: spaces normalised."""
    return " ".join(element.text_content().split())
