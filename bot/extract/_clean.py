"""Pre-cleaning: remove blocks of other stories' headlines and teasers before extraction.

News pages surround the article with "Latest posts", "Related articles" and
"More from ..." blocks. When they are marked up as ``aside``/``nav`` trafilatura
drops them, but many pages build them from plain ``div``s with neutral class
names and then their teaser paragraphs pass for article text. Two signals do not
depend on markup: a block introduced by such a heading, and a run of sibling
items that each lead with a link to another page (a headline) and carry little
prose of their own.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from lxml import etree
from lxml.html import HtmlElement

# Headings that introduce other stories, matched against the whole heading text.
_TEASER_HEADING = re.compile(
    r"""^(?:
        (?:the\s+)?latest(?:\s+(?:posts?|articles?|news|stories|headlines|updates|videos?|from\b.*))?
      | related(?:\s+(?:posts?|articles?|stories|news|content|coverage|reading|links|videos?))?
      | more\s+(?:from|on|in|about|by|stories|articles|news|posts|headlines|to\s+(?:read|explore)
                |like\s+this|top\s+stories|coverage|videos?)\b.*
      | read\s+(?:more|next|also)\b.*
      | (?:you|we\s+think\s+you)\s+(?:may|might|will|would)\s+(?:also\s+)?
        (?:like|enjoy|love|be\s+interested).*
      | recommended(?:\s+(?:for\s+you|stories|articles|reading|videos?))?
      | most\s+(?:popular|read|viewed|shared|commented|recent)\b.*
      | (?:popular|trending)(?:\s+(?:now|posts?|articles?|stories|news|today|this\s+week))?
      | (?:top|other|recent|similar|featured|recommended|sponsored)\s+
        (?:stories|articles|posts|news|headlines|content)
      | editor'?s?[’']?\s+(?:picks?|choice)
      | also\s+(?:read|on|in)\b.*
      | (?:don[’']?t|do\s+not)\s+miss\b.*
      | (?:what|where)\s+to\s+read\s+next
      | (?:up|coming\s+up)\s+next
      | in\s+other\s+news
      | (?:more|news)\s+headlines
      | (?:around|elsewhere)\s+(?:the\s+web|on\s+\w+)
    )[\s:»›>.!…|-]*$""",
    re.IGNORECASE | re.VERBOSE,
)
_HEADING_TAGS = {"h1": 1, "h2": 2, "h3": 3, "h4": 4, "h5": 5, "h6": 6}
# Elements that may act as a heading on pages that do not use h1-h6.
_PSEUDO_HEADING_TAGS = frozenset({"div", "span", "p", "strong", "b", "header", "dt", "label", "section"})
_PSEUDO_HEADING_LEVEL = 2
_MAX_HEADING_CHARS = 60
# Prose an item may carry per link and still be a teaser (a headline and a standfirst).
_TEASER_PROSE_PER_LINK = 400
# Unheaded teaser runs: at least this many sibling items that each lead with a link.
_MIN_TEASER_RUN = 3
# Never remove a block holding more than this share of the page's text: that is the article.
_MAX_SHARE_OF_PAGE = 0.5


def remove_teaser_blocks(tree: HtmlElement) -> int:
    """Remove teaser blocks from ``tree`` in place; return how many were removed."""
    body = tree.find(".//body")
    if body is None:
        body = tree
    page_chars = len(_text(body))
    if not page_chars:
        return 0
    doomed: list[HtmlElement] = []
    for heading, level in _teaser_headings(body):
        section = _section(heading, level, body)
        if section and _removable(section, page_chars):
            doomed.extend(section)
    for run in _teaser_runs(body):
        if _removable(run, page_chars):
            doomed.extend(run)
    removed = 0
    for element in doomed:
        parent = element.getparent()
        # An element may sit inside one removed earlier.
        if parent is not None and _attached(element, body):
            _drop(element)
            removed += 1
    return removed


def _teaser_headings(body: HtmlElement) -> Iterator[tuple[HtmlElement, int]]:
    for element in body.iter():
        tag = element.tag if isinstance(element.tag, str) else ""
        if tag in _HEADING_TAGS:
            level = _HEADING_TAGS[tag]
        elif tag in _PSEUDO_HEADING_TAGS and _is_leaf(element) and not _in_link(element):
            level = _PSEUDO_HEADING_LEVEL
        else:
            continue
        text = _text(element)
        if text and len(text) <= _MAX_HEADING_CHARS and _TEASER_HEADING.match(text):
            yield element, level


def _section(heading: HtmlElement, level: int, body: HtmlElement) -> list[HtmlElement]:
    """The heading (with its wrapper) and the following siblings it introduces."""
    heading_chars = len(_text(heading))
    wrapper = heading
    # Climb out of wrappers that add nothing but a "See all" link or an icon.
    while True:
        parent = wrapper.getparent()
        if parent is None or parent is body:
            break
        extra = len(_text(parent)) - heading_chars
        if extra > 30 or _has_other_heading(parent, heading):
            break
        wrapper = parent
    members = [wrapper]
    previous_was_teaser = False
    for sibling in wrapper.itersiblings():
        if not isinstance(sibling.tag, str):
            continue
        if _starts_new_section(sibling, level):
            break
        links = _links(sibling)
        prose = len(_text(sibling)) - sum(len(_text(a)) for a in links)
        if links and prose <= _TEASER_PROSE_PER_LINK * len(links):
            previous_was_teaser = True
        elif not links and prose <= _TEASER_PROSE_PER_LINK and (previous_was_teaser or prose < 40):
            # A standfirst after a linked headline, in flat markup; or a date line.
            previous_was_teaser = False
        else:
            break
        members.append(sibling)
    return members


def _teaser_runs(body: HtmlElement) -> Iterator[list[HtmlElement]]:
    """Runs of sibling items that each lead with a link to another page."""
    for parent in body.iter():
        if not isinstance(parent.tag, str) or len(parent) < _MIN_TEASER_RUN:
            continue
        run: list[HtmlElement] = []
        for child in parent:
            if isinstance(child.tag, str) and _is_teaser_item(child):
                run.append(child)
                continue
            if len(run) >= _MIN_TEASER_RUN:
                yield run
            run = []
        if len(run) >= _MIN_TEASER_RUN:
            yield run


def _is_teaser_item(item: HtmlElement) -> bool:
    """A headline link leading the item, then at most a short standfirst."""
    if item.tag in ("p", "a", "span", "br", "img"):
        return False
    headline = _leading_heading_link(item)
    if headline is None:
        return False
    text = _text(item)
    prose = len(text) - sum(len(_text(a)) for a in _links(item))
    return len(_text(headline)) >= 15 and prose <= _TEASER_PROSE_PER_LINK


def _leading_heading_link(item: HtmlElement) -> HtmlElement | None:
    """The link in the item's first heading, when that heading is the item's first text."""
    for element in item.iter():
        if not isinstance(element.tag, str):
            continue
        if element.tag in _HEADING_TAGS:
            links = (
                element.xpath(".//a[@href]") or ([a for a in element.iterancestors("a") if a.get("href")][:1])
            )
            if not links:
                return None
            before = _text_before(item, element)
            return links[0] if not before else None
    return None


def _text_before(container: HtmlElement, target: HtmlElement) -> str:
    chunks: list[str] = []
    for element in container.iter():
        if element is target:
            break
        if element.text and isinstance(element.tag, str):
            chunks.append(element.text)
        if element.tail and element is not container and target not in element.iterdescendants():
            chunks.append(element.tail)
    return "".join(chunks).strip()


def _starts_new_section(element: HtmlElement, level: int) -> bool:
    """A heading of the same or a higher rank that is not a link (teaser headlines are)."""
    candidates = [element] if element.tag in _HEADING_TAGS else []
    candidates += element.xpath(".//h1|.//h2|.//h3|.//h4|.//h5|.//h6")
    for heading in candidates:
        if _HEADING_TAGS[heading.tag] <= level and not heading.xpath(".//a[@href]|ancestor::a"):
            return True
    return False


def _removable(elements: list[HtmlElement], page_chars: int) -> bool:
    chars = sum(len(_text(e)) for e in elements)
    return chars <= _MAX_SHARE_OF_PAGE * page_chars


def _has_other_heading(element: HtmlElement, heading: HtmlElement) -> bool:
    return any(h is not heading for h in element.xpath(".//h1|.//h2|.//h3|.//h4|.//h5|.//h6"))


def _is_leaf(element: HtmlElement) -> bool:
    """No element children other than inline formatting."""
    return all(
        not isinstance(child.tag, str) or child.tag in ("span", "strong", "b", "em", "i", "a", "svg")
        for child in element
    )


def _in_link(element: HtmlElement) -> bool:
    return element.tag == "a" or any(True for _ in element.iterancestors("a"))


def _links(element: HtmlElement) -> list[HtmlElement]:
    links = element.xpath(".//a[@href]")
    if element.tag == "a" and element.get("href"):
        links.append(element)
    return links


def _attached(element: HtmlElement, root: HtmlElement) -> bool:
    return any(ancestor is root for ancestor in element.iterancestors())


def _drop(element: HtmlElement) -> None:
    """Remove ``element`` but keep its tail text, which belongs to the parent."""
    parent = element.getparent()
    if element.tail:
        previous = element.getprevious()
        if previous is not None:
            previous.tail = (previous.tail or "") + element.tail
        else:
            parent.text = (parent.text or "") + element.tail
    parent.remove(element)


def _text(element: HtmlElement) -> str:
    """The element's visible text, whitespace collapsed (scripts and styles left out)."""
    try:
        chunks = _VISIBLE_TEXT(element)
    except etree.LxmlError:
        return ""
    return " ".join(" ".join(chunks).split())


_VISIBLE_TEXT = etree.XPath(
    ".//text()[not(ancestor::script) and not(ancestor::style) and not(ancestor::noscript)]"
)
